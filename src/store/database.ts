/**
 * The only SQLite-specific file: opens better-sqlite3 with the pragmas jitca relies on and wraps it
 * in kysely's SqliteDialect. Everything else talks to `Kysely<DatabaseSchema>` so a PostgresDialect
 * can replace this file without touching the repositories.
 */
import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, Driver, SqliteDatabase } from 'kysely';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { DatabaseSchema } from './schema.ts';
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

  constructor(database: Database.Database) {
    super({ database: withStatementCache(database) });
    this.#database = database;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    // A ROLLBACK that failed on an I/O error can leave the handle inside a transaction; kysely's
    // single-connection mutex guarantees no live transaction owns it here, so clear the leftover
    // or every later BEGIN would fail and the store could only recover by restarting.
    if (this.#database.inTransaction) this.#database.exec('rollback');
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * kysely's SQLite connection calls prepare() for every query, recompiling the same few
 * statements for every entry; caching them roughly doubled recordDecision throughput
 * (test/store/throughput.measure.ts). better-sqlite3 statements are reusable, and kysely never
 * runs two at once on its single connection (we do not stream).
 */
function withStatementCache(database: Database.Database, maxStatements = 128): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
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

class JitcaSqliteDialect extends SqliteDialect {
  readonly #database: Database.Database;

  constructor(database: Database.Database) {
    super({ database });
    this.#database = database;
  }

  override createDriver(): Driver {
    return new ImmediateTransactionSqliteDriver(this.#database);
  }
}

export function openSqliteDatabase(path: string, options: SqliteOptions = {}): Kysely<DatabaseSchema> {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `busyTimeoutMs ${busyTimeoutMs} must be a non-negative integer`);
  }
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
  return new Kysely<DatabaseSchema>({ dialect: new JitcaSqliteDialect(database) });
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
}
