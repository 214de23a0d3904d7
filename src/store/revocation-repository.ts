import { ErrorCodes, JitcaError } from '../errors.ts';
import { compileStatement } from './compiled-statement.ts';
import type { PreparedRevocation } from './entry-validation.ts';
import type { RevocationsTable, StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import { classifyDatabaseError } from './store-errors.ts';
import type { StoredRevocation } from './types.ts';

const REVOCATION_COLUMNS = {
  serial: true,
  revoked_at: true,
  revoked_by: true,
  reason: true,
  ca_key_id: true,
  valid_before: true,
  audit_seq: true,
} as const satisfies Record<keyof RevocationsTable, true>;

export type RevocationInsert = (executor: StatementExecutor, revocation: PreparedRevocation, at: string, auditSeq: number) => Promise<void>;

/** One revocation per serial: revoking again is ERR_STORE_CONFLICT. Compiled once per store. */
export function compileRevocationInsert(db: StoreDb): RevocationInsert {
  const statement = compileStatement<RevocationsTable>(REVOCATION_COLUMNS, (row) => db.insertInto('revocations').values(row));
  return async (executor, revocation, at, auditSeq) => {
    try {
      await executor.run(
        statement.sql,
        statement.bind({
          serial: revocation.serial,
          revoked_at: at,
          revoked_by: revocation.revokedBy,
          reason: revocation.reason,
          ca_key_id: revocation.caKeyId,
          valid_before: revocation.validBefore,
          audit_seq: auditSeq,
        }),
      );
    } catch (error) {
      if (classifyDatabaseError(error) !== 'unique-violation') throw error;
      throw new JitcaError(ErrorCodes.STORE_CONFLICT, `certificate ${revocation.serial} is already revoked`, {
        details: { serial: revocation.serial },
        cause: error,
      });
    }
  };
}

/**
 * Revocations of certificates still valid at validAtIso: a range of the index on valid_before, so
 * the cost follows the live revocations, not every one ever made. Unordered in SQL: with an ORDER
 * BY serial SQLite walks the primary key instead, every revocation ever made, to skip a sort.
 */
export function liveRevocationsQuery(db: StoreDb, validAtIso: string) {
  return db
    .selectFrom('revocations')
    .select(['serial', 'ca_key_id', 'valid_before', 'revoked_at', 'revoked_by', 'reason'])
    .where('valid_before', '>', validAtIso);
}

export async function listRevocations(db: StoreDb, validAtIso: string): Promise<StoredRevocation[]> {
  const rows = await liveRevocationsQuery(db, validAtIso).execute();
  rows.sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  return rows.map((row) => ({
    serial: row.serial,
    caKeyId: row.ca_key_id,
    validBefore: row.valid_before,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
    reason: row.reason,
  }));
}

/** The revocation of one certificate, expired or not; undefined when it was never revoked. One primary-key read. */
export async function findRevocation(db: StoreDb, serial: string): Promise<StoredRevocation | undefined> {
  const row = await db
    .selectFrom('revocations')
    .select(['serial', 'ca_key_id', 'valid_before', 'revoked_at', 'revoked_by', 'reason'])
    .where('serial', '=', serial)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : { serial: row.serial, caKeyId: row.ca_key_id, validBefore: row.valid_before, revokedAt: row.revoked_at, revokedBy: row.revoked_by, reason: row.reason };
}

/**
 * Rises whenever a revocation is recorded, on any replica: audit seqs are unique, and one is
 * visible only once every lower one has committed (batch-writer.ts). 0 with none. One descent of
 * the index on audit_seq.
 */
export async function readRevocationsRevision(db: StoreDb): Promise<number> {
  const row = await db
    .selectFrom('revocations')
    .select((eb) => eb.fn.max('audit_seq').as('revision'))
    .executeTakeFirst();
  return Number(row?.revision ?? 0);
}
