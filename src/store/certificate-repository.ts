import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseStoredJsonObject } from './canonical-json.ts';
import { compileStatement } from './compiled-statement.ts';
import type { PreparedCertificate } from './entry-validation.ts';
import type { CertificatesTable, StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import { classifyDatabaseError } from './store-errors.ts';
import type { StoredCertificate } from './types.ts';

const CERTIFICATE_COLUMNS = {
  serial: true,
  kind: true,
  identity: true,
  key_id: true,
  key_fingerprint: true,
  principals: true,
  scope: true,
  valid_after: true,
  valid_before: true,
  ca_key_id: true,
  request_id: true,
  certificate: true,
  created_at: true,
} as const satisfies Record<keyof CertificatesTable, true>;

export type CertificateInsert = (
  executor: StatementExecutor,
  certificate: PreparedCertificate,
  createdAt: string,
) => Promise<void>;

/**
 * Serials are unique per CA (PROTOCOL.certkeys, RFC 5280 §4.1.2.2): a duplicate is a conflict.
 * Compiled once per store.
 */
export function compileCertificateInsert(db: StoreDb): CertificateInsert {
  const statement = compileStatement<CertificatesTable>(CERTIFICATE_COLUMNS, (row) =>
    db.insertInto('certificates').values(row),
  );
  return async (executor, certificate, createdAt) => {
    try {
      await executor.run(
        statement.sql,
        statement.bind({
          serial: certificate.serial,
          kind: certificate.kind,
          identity: certificate.identity,
          key_id: certificate.keyId,
          key_fingerprint: certificate.keyFingerprint,
          principals: certificate.principalsJson,
          scope: certificate.scopeJson,
          valid_after: certificate.validAfter,
          valid_before: certificate.validBefore,
          ca_key_id: certificate.caKeyId,
          request_id: certificate.requestId,
          certificate: certificate.certificate,
          created_at: createdAt,
        }),
      );
    } catch (error) {
      if (classifyDatabaseError(error) !== 'unique-violation') throw error;
      throw new JitcaError(
        ErrorCodes.STORE_CONFLICT,
        `certificate serial ${certificate.serial} is already recorded; issue again with a new serial`,
        { retryable: true, details: { serial: certificate.serial }, cause: error },
      );
    }
  };
}

export async function findCertificate(db: StoreDb, serial: string): Promise<StoredCertificate | undefined> {
  const row = await db.selectFrom('certificates').selectAll().where('serial', '=', serial).executeTakeFirst();
  return row === undefined ? undefined : toStoredCertificate(row);
}

export function toStoredCertificate(row: CertificatesTable): StoredCertificate {
  return {
    serial: row.serial,
    kind: row.kind as StoredCertificate['kind'],
    identity: row.identity,
    keyId: row.key_id,
    keyFingerprint: row.key_fingerprint,
    principals: parsePrincipals(row.principals),
    scope: parseStoredJsonObject(row.scope),
    validAfter: row.valid_after,
    validBefore: row.valid_before,
    caKeyId: row.ca_key_id,
    requestId: row.request_id,
    certificate: row.certificate,
    createdAt: row.created_at,
  };
}

function parsePrincipals(text: string): string[] {
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((p): p is string => typeof p === 'string')) return parsed;
  } catch {
    // fall through: only a hand-edited row gets here
  }
  return [];
}
