/**
 * Retention (issue 21): the rows of requests long past their expiry, read for export and then
 * removed with the retention run's audit record. The audit log itself is never touched here.
 */
import { listApprovals } from './approval-repository.ts';
import { toStoredCertificate } from './certificate-repository.ts';
import { compileStatement } from './compiled-statement.ts';
import { toStoredRequest } from './request-repository.ts';
import type { StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import type { RetiredRequest } from './types.ts';

/**
 * Requests created before `beforeIso` whose certificate, if any, expired before it too, oldest
 * first (the index on (created_at, id)), each with its certificate, approvals and revocation.
 */
export async function listRetired(db: StoreDb, beforeIso: string, limit: number): Promise<RetiredRequest[]> {
  const requests = await db
    .selectFrom('requests')
    .leftJoin('certificates', 'certificates.request_id', 'requests.id')
    .selectAll('requests')
    .where('requests.created_at', '<', beforeIso)
    .where((eb) => eb.or([eb('certificates.valid_before', 'is', null), eb('certificates.valid_before', '<', beforeIso)]))
    .orderBy('requests.created_at')
    .orderBy('requests.id')
    .limit(limit)
    .execute();
  const retired: RetiredRequest[] = [];
  for (const row of requests) {
    const certificateRow = await db.selectFrom('certificates').selectAll().where('request_id', '=', row.id).executeTakeFirst();
    const revocation = certificateRow === undefined
      ? undefined
      : await db.selectFrom('revocations').select(['revoked_at', 'revoked_by', 'reason']).where('serial', '=', certificateRow.serial).executeTakeFirst();
    const entry: RetiredRequest = { request: toStoredRequest(row), approvals: await listApprovals(db, row.id) };
    if (certificateRow !== undefined) entry.certificate = toStoredCertificate(certificateRow);
    if (revocation !== undefined) entry.revocation = { revokedAt: revocation.revoked_at, revokedBy: revocation.revoked_by, reason: revocation.reason };
    retired.push(entry);
  }
  return retired;
}

export type RetiredRowsDelete = (executor: StatementExecutor, requestId: string) => Promise<void>;

/** A request's rows, children first (the foreign keys point at requests and certificates). Compiled once per store. */
export function compileRetiredRowsDelete(db: StoreDb): RetiredRowsDelete {
  const byRequest = { request_id: true } as const;
  const statements = [
    compileStatement<{ request_id: string }>(byRequest, (row) =>
      db.deleteFrom('revocations').where('serial', 'in', db.selectFrom('certificates').select('serial').where('request_id', '=', row.request_id)),
    ),
    compileStatement<{ request_id: string }>(byRequest, (row) => db.deleteFrom('approvals').where('request_id', '=', row.request_id)),
    compileStatement<{ request_id: string }>(byRequest, (row) => db.deleteFrom('certificates').where('request_id', '=', row.request_id)),
    compileStatement<{ request_id: string }>(byRequest, (row) => db.deleteFrom('requests').where('id', '=', row.request_id)),
  ];
  return async (executor, requestId) => {
    for (const statement of statements) await executor.run(statement.sql, statement.bind({ request_id: requestId }));
  };
}
