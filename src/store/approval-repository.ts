import { ErrorCodes, JitcaError } from '../errors.ts';
import { compileStatement } from './compiled-statement.ts';
import type { ApprovalsTable, StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import { classifyDatabaseError } from './store-errors.ts';
import type { StoredApproval } from './types.ts';

const APPROVAL_COLUMNS = { request_id: true, approver: true, at: true, reason: true } as const satisfies Record<keyof ApprovalsTable, true>;

export type ApprovalInsert = (executor: StatementExecutor, approval: StoredApproval) => Promise<void>;

/** One approval per approver per request, so N-of-M counts distinct people. Compiled once per store. */
export function compileApprovalInsert(db: StoreDb): ApprovalInsert {
  const statement = compileStatement<ApprovalsTable>(APPROVAL_COLUMNS, (row) => db.insertInto('approvals').values(row));
  return async (executor, approval) => {
    try {
      await executor.run(
        statement.sql,
        statement.bind({ request_id: approval.requestId, approver: approval.approver, at: approval.at, reason: approval.reason ?? null }),
      );
    } catch (error) {
      if (classifyDatabaseError(error) !== 'unique-violation') throw error;
      throw new JitcaError(
        ErrorCodes.STORE_CONFLICT,
        `${approval.approver} has already approved request ${approval.requestId}`,
        { details: { requestId: approval.requestId, approver: approval.approver }, cause: error },
      );
    }
  };
}

export async function listApprovals(db: StoreDb, requestId: string): Promise<StoredApproval[]> {
  const rows = await db
    .selectFrom('approvals')
    .selectAll()
    .where('request_id', '=', requestId)
    .orderBy('at')
    .orderBy('approver')
    .execute();
  return rows.map((row) => {
    const approval: StoredApproval = { requestId: row.request_id, approver: row.approver, at: row.at };
    if (row.reason !== null) approval.reason = row.reason;
    return approval;
  });
}
