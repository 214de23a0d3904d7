import { ErrorCodes, JitcaError } from '../errors.ts';
import { compileStatement } from './compiled-statement.ts';
import type { RevocationsTable, StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import { classifyDatabaseError } from './store-errors.ts';
import type { CertificateKind, StoredRevocation } from './types.ts';

const REVOCATION_COLUMNS = { serial: true, revoked_at: true, revoked_by: true, reason: true } as const satisfies Record<keyof RevocationsTable, true>;

export type RevocationInsert = (executor: StatementExecutor, revocation: { serial: string; revokedBy: string; reason: string }, at: string) => Promise<void>;

/** One revocation per serial: revoking again is ERR_STORE_CONFLICT. Compiled once per store. */
export function compileRevocationInsert(db: StoreDb): RevocationInsert {
  const statement = compileStatement<RevocationsTable>(REVOCATION_COLUMNS, (row) => db.insertInto('revocations').values(row));
  return async (executor, revocation, at) => {
    try {
      await executor.run(
        statement.sql,
        statement.bind({ serial: revocation.serial, revoked_at: at, revoked_by: revocation.revokedBy, reason: revocation.reason }),
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

export async function listRevocations(db: StoreDb, validAtIso: string): Promise<StoredRevocation[]> {
  const rows = await db
    .selectFrom('revocations')
    .innerJoin('certificates', 'certificates.serial', 'revocations.serial')
    .select([
      'revocations.serial',
      'certificates.kind',
      'certificates.identity',
      'certificates.ca_key_id',
      'certificates.valid_before',
      'revocations.revoked_at',
      'revocations.revoked_by',
      'revocations.reason',
    ])
    .where('certificates.valid_before', '>', validAtIso)
    .orderBy('revocations.serial')
    .execute();
  return rows.map((row) => ({
    serial: row.serial,
    kind: row.kind as CertificateKind,
    identity: row.identity,
    caKeyId: row.ca_key_id,
    validBefore: row.valid_before,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
    reason: row.reason,
  }));
}
