/**
 * The only SQLite-specific file: opens better-sqlite3 with the pragmas jitca relies on and wraps it
 * in kysely's SqliteDialect. Everything else talks to `Kysely<DatabaseSchema>` so a PostgresDialect
 * can replace this file without touching the repositories.
 */
import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, Driver } from 'kysely';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { DatabaseSchema } from './schema.ts';
import type { StatementExecutor, StatementExecutorFactory } from './statement-executor.ts';
import { prepareSqliteFiles } from './sqlite-file-modes.ts';
import { watchSqliteFiles, type SqliteFileIdentity } from './sqlite-file-identity.ts';
import { storeUnavailable, toStoreError } from './store-errors.ts';

export interface SqliteOptions {
  /**
   * How long a write waits for another connection's lock before failing with SQLITE_BUSY
   * (-> ERR_STORE_UNAVAILABLE). better-sqlite3 waits synchronously, so this also bounds how long
   * the event loop can stall. Default 5000 ms.
   */
  busyTimeoutMs?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Begins transactions with BEGIN IMMEDIATE: the write lock is taken up front, so a second process
 * writing the same file makes us wait busy_timeout instead of failing mid-transaction with
 * SQLITE_BUSY_SNAPSHOT (a deferred transaction that read before another writer committed cannot
 * be upgraded in WAL mode; https://sqlite.org/lang_transaction.html).
 */
class ImmediateTransactionSqliteDriver extends SqliteDriver {
  readonly #database: Database.Database;
  readonly #files: SqliteFileIdentity;

  constructor(database: Database.Database, statements: StatementCache, files: SqliteFileIdentity) {
    // Every query kysely runs (reads, BEGIN, COMMIT) first checks that the files are still the
    // database (sqlite-file-identity.ts), so a store whose files are gone answers nothing, readyz
    // included. ROLLBACK is exempt: it must still end a transaction that check interrupted.
    const prepare = (sqlText: string): Database.Statement => {
      if (sqlText !== 'rollback') files.assertUnmoved();
      return statements.prepare(sqlText);
    };
    super({ database: { close: () => database.close(), prepare } });
    this.#database = database;
    this.#files = files;
  }

  // Checked again once the COMMIT returned: a batch is acknowledged only if it went into the
  // files that are still the database; otherwise every entry of it fails.
  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await super.commitTransaction(connection);
    this.#files.assertUnmoved();
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    // A ROLLBACK that failed on an I/O error can leave the handle inside a transaction; kysely's
    // single-connection mutex guarantees no live transaction owns it here, so clear the leftover
    // or every later BEGIN would fail and the store could only recover by restarting.
    if (this.#database.inTransaction) this.#database.exec('rollback');
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

interface StatementCache {
  prepare(sqlText: string): Database.Statement;
}

/**
 * kysely's SQLite connection calls prepare() for every query, recompiling the same few
 * statements for every entry; caching them roughly doubled recordDecision throughput.
 * better-sqlite3 statements are reusable, and kysely never runs two at once on its single
 * connection (we do not stream). The direct executor below shares this cache.
 */
function createStatementCache(database: Database.Database, maxStatements = 128): StatementCache {
  const cache = new Map<string, Database.Statement>();
  return {
    prepare(sqlText: string): Database.Statement {
      let statement = cache.get(sqlText);
      if (statement === undefined) {
        statement = database.prepare(sqlText);
        if (cache.size >= maxStatements) cache.delete(cache.keys().next().value ?? '');
        cache.set(sqlText, statement);
      }
      return statement;
    },
  };
}

/**
 * Runs the batch writer's compiled statements straight on the better-sqlite3 handle, through the
 * same statement cache. Handing the same compiled SQL to kysely instead (kyselyStatementExecutor:
 * CompiledQuery.raw + executeQuery on the transaction) costs a frozen query object, a new executor
 * and connection-provider round trip, several promise hops and a result transform for each of
 * the five statements an entry runs: measured at ~16 us more CPU per entry with batches of 200
 * (~68 vs ~52 us) and ~8 us more with batches of 8, next to SQLite's own ~25-50 us.
 *
 * Safe because it only ever runs inside a transaction the batch writer opened through kysely:
 * that transaction holds kysely's single-connection mutex (the SQLite adapter allows one
 * connection), so no other query can run on this handle between these statements, and BEGIN,
 * COMMIT and ROLLBACK (with the leftover-transaction recovery above) still go through the driver.
 */
function directStatementExecutor(statements: StatementCache): StatementExecutorFactory {
  const executor: StatementExecutor = {
    run(sqlText: string, parameters: unknown[]): void {
      statements.prepare(sqlText).run(parameters);
    },
    rows<Row>(sqlText: string, parameters: unknown[]): Row[] {
      return statements.prepare(sqlText).all(parameters) as Row[];
    },
  };
  return () => executor;
}

class JitcaSqliteDialect extends SqliteDialect {
  readonly #database: Database.Database;
  readonly #statements: StatementCache;
  readonly #files: SqliteFileIdentity;

  constructor(database: Database.Database, statements: StatementCache, files: SqliteFileIdentity) {
    super({ database });
    this.#database = database;
    this.#statements = statements;
    this.#files = files;
  }

  override createDriver(): Driver {
    return new ImmediateTransactionSqliteDriver(this.#database, this.#statements, this.#files);
  }
}

export interface SqliteStoreDatabase {
  db: Kysely<DatabaseSchema>;
  /**
   * Runs the store's compiled write statements on this database's one connection (see
   * directStatementExecutor): only for use inside a transaction opened through db.
   */
  executorFor: StatementExecutorFactory;
}

export function openSqliteDatabase(path: string, options: SqliteOptions = {}): Kysely<DatabaseSchema> {
  return openSqliteStoreDatabase(path, options).db;
}

export function openSqliteStoreDatabase(path: string, options: SqliteOptions = {}): SqliteStoreDatabase {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `busyTimeoutMs ${busyTimeoutMs} must be a non-negative integer`);
  }
  prepareSqliteFiles(path);
  let database: Database.Database;
  try {
    database = new Database(path, { timeout: busyTimeoutMs });
  } catch (error) {
    // better-sqlite3 checks the directory itself and throws a plain TypeError without a SQLite
    // code; a missing directory is usually a volume not mounted yet, so it is retryable too.
    if (error instanceof TypeError) {
      throw storeUnavailable(`cannot open SQLite database ${path}: ${error.message}`, error);
    }
    throw toStoreError(error, `opening SQLite database ${path}`);
  }
  try {
    applyPragmas(database, path, busyTimeoutMs);
  } catch (error) {
    database.close();
    throw toStoreError(error, `configuring SQLite database ${path}`);
  }
  const statements = createStatementCache(database);
  // After the pragmas: WAL mode is on, so SQLite has opened (and created) the -wal file.
  const files = watchSqliteFiles(path);
  return {
    db: new Kysely<DatabaseSchema>({ dialect: new JitcaSqliteDialect(database, statements, files) }),
    executorFor: directStatementExecutor(statements),
  };
}

function applyPragmas(database: Database.Database, path: string, busyTimeoutMs: number): void {
  database.pragma(`busy_timeout = ${busyTimeoutMs}`);
  // WAL: readers never block the writer, and a commit is one sequential append + fsync.
  const mode = database.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal' && path !== ':memory:') {
    throw new JitcaError(
      ErrorCodes.CONFIG_INVALID,
      `SQLite database ${path} cannot use WAL journal mode (got ${String(mode)}); put it on a local filesystem`,
    );
  }
  // FULL: in WAL mode NORMAL may lose the last commits on power loss, and a certificate is only
  // released after its audit record is durable (https://sqlite.org/pragma.html#pragma_synchronous).
  database.pragma('synchronous = FULL');
  database.pragma('foreign_keys = ON');
  // The batch writer opens a SAVEPOINT per entry; SQLite keeps the pages an entry changes in a
  // statement journal so ROLLBACK TO can undo that entry alone. With the default temp_store that
  // journal spills to a temp file once it passes 64 KiB and is not truncated again until the
  // transaction ends, so from the eighth or so entry of a batch on, every page an entry touches
  // costs two extra pwrite()s: ~20 us of CPU per entry at batches of 200 (bench/store-throughput.ts).
  // In memory it is truncated at every RELEASE, so it holds one entry's pages at a time. The
  // statement journal only ever serves a rollback inside a live transaction, never crash
  // recovery (that is the WAL), so durability is unchanged.
  database.pragma('temp_store = MEMORY');
}
