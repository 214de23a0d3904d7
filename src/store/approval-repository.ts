import { ErrorCodes, JitcaError } from '../errors.ts';
import type { StoreDb } from './schema.ts';
import { classifyDatabaseError } from './store-errors.ts';
import type { StoredApproval } from './types.ts';

/** One approval per approver per request, so N-of-M counts distinct people. */
export async function insertApproval(db: StoreDb, approval: StoredApproval): Promise<void> {
  try {
    await db
      .insertInto('approvals')
      .values({ request_id: approval.requestId, approver: approval.approver, at: approval.at })
      .execute();
  } catch (error) {
    if (classifyDatabaseError(error) !== 'unique-violation') throw error;
    throw new JitcaError(
      ErrorCodes.STORE_CONFLICT,
      `${approval.approver} has already approved request ${approval.requestId}`,
      { details: { requestId: approval.requestId, approver: approval.approver }, cause: error },
    );
  }
}

export async function listApprovals(db: StoreDb, requestId: string): Promise<StoredApproval[]> {
  const rows = await db
    .selectFrom('approvals')
    .selectAll()
    .where('request_id', '=', requestId)
    .orderBy('at')
    .orderBy('approver')
    .execute();
  return rows.map((row) => ({ requestId: row.request_id, approver: row.approver, at: row.at }));
}
