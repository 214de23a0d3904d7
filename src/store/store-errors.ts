/**
 * Maps driver errors to JitcaError. Both SQLite (better-sqlite3: `code` "SQLITE_…") and
 * PostgreSQL (pg: `code` = SQLSTATE) are recognised so the repositories stay dialect-free.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';

export type DatabaseErrorKind = 'unique-violation' | 'unavailable' | 'other';

// SQLite result codes (https://sqlite.org/rescode.html) that mean "the database cannot be used
// right now" rather than "this statement is wrong": I/O, disk full, cannot open, lock timeout,
// read-only file or mount, out of memory. Extended codes (SQLITE_IOERR_WRITE, ...) share a prefix.
const SQLITE_UNAVAILABLE = /^SQLITE_(IOERR|FULL|CANTOPEN|BUSY|LOCKED|READONLY|NOMEM|PROTOCOL|INTERRUPT)/;
const SQLITE_UNIQUE = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);

// PostgreSQL SQLSTATE classes (Appendix A): 08 connection exception, 53 insufficient resources
// (disk full, out of memory, too many connections), 57P0x shutdown / cannot connect now, 57014
// query canceled (statement_timeout, e.g. waiting for the audit lock a stuck replica holds),
// 25P03 idle-in-transaction timeout, 40001/40P01 serialization failure / deadlock, 25006
// read-only transaction.
const PG_UNAVAILABLE = /^(08...|53...|57P0[1-3]|57014|25P03|40001|40P01|25006)$/;
const PG_UNIQUE = '23505';
const NODE_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

// Messages of errors without a code: better-sqlite3 on a closed handle, kysely after destroy(),
// and pg / pg-pool when the server went away (restart, failover) or could not be reached in time.
const CLOSED_MESSAGES = [
  'The database connection is not open',
  'driver has already been destroyed',
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'timeout expired',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
];

export function classifyDatabaseError(error: unknown): DatabaseErrorKind {
  if (!(error instanceof Error)) return 'other';
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code === 'string') {
    if (SQLITE_UNIQUE.has(code) || code === PG_UNIQUE) return 'unique-violation';
    if (SQLITE_UNAVAILABLE.test(code) || PG_UNAVAILABLE.test(code) || NODE_NETWORK.has(code)) {
      return 'unavailable';
    }
  }
  if (CLOSED_MESSAGES.includes(error.message)) return 'unavailable';
  return 'other';
}

/** A database error as the caller should see it; JitcaErrors pass through unchanged. */
export function toStoreError(error: unknown, action: string): JitcaError {
  if (error instanceof JitcaError) return error;
  const kind = classifyDatabaseError(error);
  const details = dbCodeOf(error);
  if (kind === 'unavailable') {
    return new JitcaError(ErrorCodes.STORE_UNAVAILABLE, `database unavailable while ${action}; retry later`, {
      retryable: true,
      details,
      cause: error,
    });
  }
  return new JitcaError(ErrorCodes.STORE_FAILURE, `database rejected ${action}`, { details, cause: error });
}

export function storeUnavailable(message: string, cause?: unknown): JitcaError {
  return new JitcaError(ErrorCodes.STORE_UNAVAILABLE, message, { retryable: true, details: dbCodeOf(cause), cause });
}

/** The driver's error code (e.g. SQLITE_BUSY, 53100) is safe to show; the driver message may not be. */
function dbCodeOf(error: unknown): Record<string, unknown> | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  if (typeof code === 'string') return { dbCode: code };
  const cause = (error as { cause?: unknown } | null | undefined)?.cause;
  return cause !== undefined && cause !== error ? dbCodeOf(cause) : undefined;
}
