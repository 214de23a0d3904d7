import { sql } from 'kysely';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { compileStatement } from './compiled-statement.ts';
import type { StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import type { RotationFence, RotationLockRequest } from './types.ts';

/**
 * The rotation lock's rows (migration 0009). Acquiring is one INSERT .. ON CONFLICT DO UPDATE ..
 * WHERE, atomic on SQLite and PostgreSQL alike: two processes racing for a free lock both run it,
 * and the database lets exactly one of them see its row come back.
 */
export async function acquireRotationLock(db: StoreDb, request: RotationLockRequest): Promise<RotationFence | undefined> {
  const row = await db
    .insertInto('rotation_lock')
    .values({ name: request.lock, holder: request.holder, expires_at: request.expiresAtIso, fence: 1 })
    .onConflict((conflict) =>
      conflict
        .column('name')
        .doUpdateSet({
          holder: (eb) => eb.ref('excluded.holder'),
          expires_at: (eb) => eb.ref('excluded.expires_at'),
          // A renewal keeps its number; every new hold (another holder, or an expired one) raises it.
          fence: sql<number>`case when rotation_lock.holder = excluded.holder and rotation_lock.expires_at > ${request.nowIso} then rotation_lock.fence else rotation_lock.fence + 1 end`,
        })
        .where(sql<boolean>`rotation_lock.holder = excluded.holder or rotation_lock.expires_at <= ${request.nowIso}`),
    )
    .returning(['fence'])
    .executeTakeFirst();
  return row === undefined ? undefined : { lock: request.lock, holder: request.holder, fence: Number(row.fence) };
}

/** Expired since the epoch: any later acquire's `expires_at <= now` holds. */
const FREE = new Date(0).toISOString();

export async function releaseRotationLock(db: StoreDb, fence: RotationFence): Promise<void> {
  await db
    .updateTable('rotation_lock')
    .set({ expires_at: FREE })
    .where('name', '=', fence.lock)
    .where('holder', '=', fence.holder)
    .where('fence', '=', fence.fence)
    .execute();
}

export async function lastValidBefore(db: StoreDb, caKeyId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('certificates')
    .select((eb) => eb.fn.max('valid_before').as('last'))
    .where('ca_key_id', '=', caKeyId)
    .executeTakeFirst();
  return row?.last ?? undefined;
}

export type FenceCheck = (executor: StatementExecutor, fence: RotationFence) => Promise<void>;

/**
 * Inside a write's transaction: touches the lock row only if it still carries the writer's
 * number. The UPDATE takes the row's lock in PostgreSQL, so a concurrent acquire waits for this
 * transaction (and then raises the number) instead of slipping in between check and write.
 */
export function compileFenceCheck(db: StoreDb): FenceCheck {
  const statement = compileStatement<{ name: string; holder: string; fence: number }>({ name: true, holder: true, fence: true }, (row) =>
    db
      .updateTable('rotation_lock')
      .set((eb) => ({ fence: eb.ref('fence') }))
      .where('name', '=', row.name)
      .where('holder', '=', row.holder)
      .where('fence', '=', row.fence)
      .returning(['fence']),
  );
  return async (executor, fence) => {
    const rows = await executor.rows(statement.sql, statement.bind({ name: fence.lock, holder: fence.holder, fence: fence.fence }));
    if (rows.length === 0) {
      throw new JitcaError(ErrorCodes.ROTATION_LOCKED, `the rotation lock ${fence.lock} is no longer held by ${fence.holder} with fencing number ${fence.fence}; nothing was written`, {
        details: { lock: fence.lock, fence: fence.fence },
      });
    }
  };
}
