/**
 * The PostgreSQL store for multi-replica deployments: kysely's PostgresDialect over a `pg` Pool,
 * the same migrations and the same Store (store.ts createStore, with the portable kysely
 * statement executor). The one PostgreSQL-specific rule lives in the driver below: every
 * transaction takes the audit-chain lock before it reads anything, so replicas append one batch
 * at a time and seq stays contiguous with prev_hash linked.
 */
import pg from 'pg';
import { CompiledQuery, Kysely, PostgresDialect, PostgresDriver } from 'kysely';
import type { DatabaseConnection, Driver } from 'kysely';
import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { migrateToLatest } from './migrations.ts';
import type { DatabaseSchema } from './schema.ts';
import { createStore } from './store.ts';
import { toStoreError } from './store-errors.ts';
import type { OutboxSink, Store } from './types.ts';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database; may hold a password, so it never appears in errors. */
  url: string;
  clock: Clock;
  /** Most entries sharing one transaction (default 256), as for SQLite. */
  maxBatch?: number;
  /** See StoreOptions.outboxSinks. */
  outboxSinks?: readonly OutboxSink[];
  /** Pool size per replica (default 10): one writer connection at a time plus concurrent reads. */
  maxConnections?: number;
  /** How long acquiring a connection may take before the call fails as unavailable (default 5000 ms). */
  connectionTimeoutMs?: number;
  /**
   * Longest any one statement may run, waiting for the audit-chain lock included (server-side
   * statement_timeout, default 10000 ms). A replica stuck in a transaction then costs the others
   * a retryable ERR_STORE_UNAVAILABLE (503), not a request that hangs.
   */
  statementTimeoutMs?: number;
}

/**
 * Key of the transaction-level advisory lock that serialises audit appends across replicas
 * (https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS). Any constant works
 * as long as every jitca replica uses the same one; this is "jitca:audit" in ASCII.
 */
export const AUDIT_CHAIN_LOCK_KEY = 0x6a69746361_3a61n;

const DEFAULT_MAX_CONNECTIONS = 10;
const DEFAULT_CONNECTION_TIMEOUT_MS = 5000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;
/** The client gives up this long after the server should have: a server that stopped answering. */
const CLIENT_TIMEOUT_MARGIN_MS = 5000;
/**
 * A session of ours idle inside a transaction this long is ended by the server, which releases
 * the audit-chain lock it may hold: a jitca replica paused mid-batch (stopped, partitioned, its
 * host frozen) must not hold every other replica's writes until TCP notices, hours later.
 * Batches run their statements back to back; 30 s idle inside one is never normal.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;

/**
 * Begins every transaction READ COMMITTED and then waits for the audit-chain lock. The batch
 * writer reads the audit head as its first statement after BEGIN; under READ COMMITTED that read
 * takes a new snapshot after the lock was granted, so it sees the batch another replica committed
 * just before releasing the lock (REPEATABLE READ would pin a snapshot from before the wait and
 * hand out a seq already taken). The lock is released by COMMIT or ROLLBACK, or by the server
 * when the connection dies, so a crashed replica never leaves it held. The same role as
 * BEGIN IMMEDIATE in database.ts.
 */
class AuditLockingPostgresDriver extends PostgresDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('start transaction isolation level read committed'));
    try {
      await connection.executeQuery(CompiledQuery.raw(`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`));
    } catch (error) {
      // kysely hands the connection back to the pool when BEGIN fails, without a ROLLBACK: end the
      // aborted transaction here (statement_timeout while waiting for the lock), or the next user
      // of this connection gets "current transaction is aborted" (25P02).
      await connection.executeQuery(CompiledQuery.raw('rollback')).catch(() => undefined);
      throw error;
    }
  }
}

class JitcaPostgresDialect extends PostgresDialect {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    super({ pool });
    this.#pool = pool;
  }

  override createDriver(): Driver {
    return new AuditLockingPostgresDriver({ pool: this.#pool });
  }
}

/** The URL without its password, for messages: "postgres://jitca@db:5432/jitca". */
export function describePostgresUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'the configured PostgreSQL URL';
  }
  const user = parsed.username === '' ? '' : `${decodeURIComponent(parsed.username)}@`;
  return `${parsed.protocol}//${user}${parsed.host}${parsed.pathname}`;
}

function checkUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') || parsed.host === '') {
    // The text itself is not echoed: a malformed URL may still contain the password.
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'store.postgresUrl must be a URL of the form postgres://user[:password]@host[:port]/database');
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `${name} ${value} must be a positive integer`);
  }
  return value;
}

/** A kysely database over a new pool; nothing is connected until the first query. */
export function openPostgresDatabase(
  url: string,
  options: Pick<PostgresStoreOptions, 'maxConnections' | 'connectionTimeoutMs' | 'statementTimeoutMs'> = {},
): Kysely<DatabaseSchema> {
  checkUrl(url);
  const statementTimeoutMs = positiveInteger('statementTimeoutMs', options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS);
  const pool = new pg.Pool({
    connectionString: url,
    max: positiveInteger('maxConnections', options.maxConnections ?? DEFAULT_MAX_CONNECTIONS),
    connectionTimeoutMillis: positiveInteger('connectionTimeoutMs', options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS),
    // Session settings sent at connect (PostgreSQL runtime parameters), and pg's own client-side limit.
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    query_timeout: statementTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
    // Notices a dead peer (failover, cut network) on idle connections instead of at the next query.
    keepAlive: true,
  });
  // An idle client whose server went away (restart, failover) emits 'error' on the pool; pg-pool
  // already drops that client, and without a listener Node would end the process. The next query
  // opens a new connection or fails with ERR_STORE_UNAVAILABLE. The error carries no URL.
  pool.on('error', () => undefined);
  // A client checked out when its connection dies (server restart between two statements of a
  // batch) emits 'error' too, and pg-pool listens only while the client is idle: without this an
  // outage would crash jitca instead of failing the batch. The failure still reaches the caller
  // (the pending or next query rejects), and pg-pool discards the client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return new Kysely<DatabaseSchema>({ dialect: new JitcaPostgresDialect(pool) });
}

/**
 * Opens the PostgreSQL store and brings its schema up to date. Several replicas may start at
 * once: kysely's Migrator takes its own advisory lock on PostgreSQL, so one migrates and the
 * others find the schema current.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const db = openPostgresDatabase(options.url, options);
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy().catch(() => undefined);
    // Same code and retryability as migrateToLatest decided, but naming the server (without the
    // password) so an operator can tell which database could not be reached.
    const mapped = toStoreError(error, 'migrating the store schema');
    throw new JitcaError(mapped.code, `${describePostgresUrl(options.url)}: ${mapped.message}`, {
      retryable: mapped.retryable,
      details: mapped.details,
      cause: mapped,
    });
  }
  return createStore(db, { clock: options.clock, maxBatch: options.maxBatch, outboxSinks: options.outboxSinks });
}
