/**
 * The write path compiles its statements once with kysely (compiled-statement.ts) and runs them
 * either through kysely (any dialect) or straight on the SQLite handle (database.ts). Both must
 * write the same rows and the same audit chain, and a compiled statement must put every value in
 * its own column whatever order the query lists them in.
 */
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { compileStatement } from '../../src/store/compiled-statement.ts';
import { openSqliteDatabase, openSqliteStoreDatabase } from '../../src/store/database.ts';
import { migrateToLatest } from '../../src/store/migrations.ts';
import type { ApprovalsTable } from '../../src/store/schema.ts';
import { kyselyStatementExecutor } from '../../src/store/statement-executor.ts';
import { createStore } from '../../src/store/store.ts';
import type { DecisionEntry, Store } from '../../src/store/types.ts';
import { START_MS, deniedEntry, issuedEntry, makeTempDir, removeDir } from './store-fixtures.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = makeTempDir();
  cleanups.push(() => removeDir(dir));
  return dir;
}

const APPROVAL_COLUMNS = { request_id: true, approver: true, at: true, reason: true } as const;

describe('compiled statements', () => {
  it('bind each value to its own column, whatever order the query names the columns in', async () => {
    const { db, executorFor } = openSqliteStoreDatabase(path.join(tempDir(), 'jitca.db'));
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);
    await db.insertInto('requests').values({
      id: 'req-1', kind: 'ssh-user', requester: 'a', role: null, state: 'pending', body: '{}', decision: '{}',
      created_at: 'c', expires_at: null, updated_at: 'u', version: 0,
    }).execute();
    // Columns deliberately listed in another order than ApprovalsTable declares them.
    const insert = compileStatement<ApprovalsTable>(APPROVAL_COLUMNS, (row) =>
      db.insertInto('approvals').values({ at: row.at, reason: row.reason, approver: row.approver, request_id: row.request_id }),
    );
    const row = { request_id: 'req-1', approver: 'bob@example.com', at: '2025-03-01T12:00:00.000Z', reason: 'INC-7' };
    const direct = executorFor(db);
    await direct.run(insert.sql, insert.bind(row));
    await kyselyStatementExecutor(db).run(insert.sql, insert.bind({ ...row, approver: 'carol@example.com' }));
    expect(await db.selectFrom('approvals').selectAll().orderBy('approver').execute()).toEqual([
      row,
      { ...row, approver: 'carol@example.com' },
    ]);
  });

  it('keep constants the query builder added (limit 1) and refuse a builder that leaves a column unbound', () => {
    const db = openSqliteDatabase(':memory:');
    cleanups.push(() => db.destroy());
    const head = compileStatement<{ after: number }>({ after: true }, (row) =>
      db.selectFrom('audit_log').select('seq').where('seq', '>', row.after).limit(1),
    );
    expect(head.bind({ after: 7 })).toEqual([7, 1]);
    expect(() =>
      compileStatement<ApprovalsTable>(APPROVAL_COLUMNS, (row) =>
        db.insertInto('approvals').values({ request_id: row.request_id, approver: row.approver, at: 'fixed', reason: row.reason }),
      ),
    ).toThrow(/does not bind at/);
    // A literal is written into the SQL text: every row would get the marker, not its value.
    expect(() =>
      compileStatement<{ name: string }>({ name: true }, (row) =>
        db.selectFrom('audit_log').select(sql.lit(row.name).as('name')),
      ),
    ).toThrow(/does not bind name/);
  });
});

/** Every kind of write the store makes, in one order; each call awaited so both runs see the same batches. */
async function writeMixed(store: Store, advance: (ms: number) => void): Promise<void> {
  const pending: DecisionEntry = {
    request: { ...deniedEntry('req-p').request, state: 'pending', expiresAt: '2025-03-01T13:00:00.000Z' },
    event: { type: 'request.pending', actor: 'carol@example.com', data: { approvers: ['dave'] } },
  };
  const approve: DecisionEntry = {
    request: { ...deniedEntry('req-p').request, state: 'approved' },
    approval: { approver: 'dave@example.com' },
    event: { type: 'request.approved', actor: 'dave@example.com', subject: 'carol@example.com', data: {} },
  };
  const steps: Array<() => Promise<unknown>> = [
    () => store.recordDecision(issuedEntry('req-i', '4242')),
    () => store.recordDecision(pending),
    () => store.recordDecision(approve),
    () => store.recordDecision(approve).catch(() => undefined), // duplicate approval: refused
    () => store.recordDecision(issuedEntry('req-dup', '4242')).catch(() => undefined), // duplicate serial
    () => store.appendAudit({ type: 'ca.rotated', actor: 'system', data: { b: [1, -0, 2.5], a: 'Grüße' } }),
    () => Promise.all([store.recordDecision(deniedEntry('req-d1')), store.recordDecision(issuedEntry('req-i2', '77'))]),
  ];
  for (const step of steps) {
    advance(1000);
    await step();
  }
}

async function snapshot(store: Store): Promise<unknown> {
  return {
    audit: await store.listAudit(),
    requests: await Promise.all(['req-i', 'req-p', 'req-dup', 'req-d1', 'req-i2'].map((id) => store.getRequest(id))),
    certificates: await Promise.all(['4242', '77'].map((serial) => store.findCertificateBySerial(serial))),
    approvals: await store.listApprovals('req-p'),
    verify: await store.verifyAudit(),
  };
}

describe('SQLite settings of the write path', () => {
  it('keeps statement journals in memory, so per-entry savepoints never spill to temp files', async () => {
    const db = openSqliteDatabase(path.join(tempDir(), 'jitca.db'));
    cleanups.push(() => db.destroy());
    const result = await sql<{ temp_store: number }>`pragma temp_store`.execute(db);
    expect(result.rows[0]?.temp_store).toBe(2); // 2 = MEMORY
  });
});

describe('portable and SQLite-direct write paths', () => {
  it('write the same rows and the same audit chain, hash for hash', async () => {
    const results: unknown[] = [];
    for (const direct of [true, false]) {
      const { db, executorFor } = openSqliteStoreDatabase(path.join(tempDir(), 'jitca.db'));
      await migrateToLatest(db);
      const clock = fixedClock(START_MS);
      const store = direct ? createStore(db, { clock }, executorFor) : createStore(db, { clock });
      try {
        await writeMixed(store, clock.advance);
        results.push(await snapshot(store));
      } finally {
        await store.close();
      }
    }
    const [direct, portable] = results;
    expect(direct).toMatchObject({ verify: { ok: true, records: 6 } });
    expect(portable).toEqual(direct);
  });
});
