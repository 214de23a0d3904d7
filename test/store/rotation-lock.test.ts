/**
 * The rotation lock (migration 0009) on SQLite and on a real PostgreSQL: one holder at a time, a
 * new hold raises the fencing number, and a generation write under a stale number is refused in
 * its own transaction, writing nothing (no row, no audit record).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { openPostgresStore } from '../../src/store/postgres-database.ts';
import type { CaGeneration, RotationFence, Store } from '../../src/store/types.ts';
import { codeOfAsync } from '../support/error-codes.ts';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../support/postgres.ts';
import { fixedClock } from '../../src/clock.ts';
import { makeTempDir, openTempStore, removeDir, START_MS } from './store-fixtures.ts';

const at = (offsetMs: number): string => new Date(START_MS + offsetMs).toISOString();
const lock = (holder: string, nowMs: number) => ({ lock: 'ca-rotation', holder, nowIso: at(nowMs), expiresAtIso: at(nowMs + 60_000) });
const generation: CaGeneration = {
  ca: 'ssh-user',
  generation: 7,
  state: 'next',
  keyId: 'ssh-user-ca/7',
  algorithm: 'ed25519',
  publicKey: 'AAAA',
  createdAt: at(0),
};
const write = (store: Store, fence: RotationFence) =>
  store.recordCaGenerations({ generations: [generation], fence, event: { type: 'ca.rotated', actor: 'test', data: { step: 'generate' } } });

function lockCases(open: () => Promise<Store>): void {
  it('lets one holder in at a time, renews for its holder, and hands over after expiry with a higher fencing number', async () => {
    const store = await open();
    const first = await store.acquireRotationLock(lock('a', 0));
    expect(first?.fence).toBe(1);
    expect(await store.acquireRotationLock(lock('b', 1_000))).toBeUndefined();
    expect((await store.acquireRotationLock(lock('a', 2_000)))?.fence).toBe(1);
    const second = await store.acquireRotationLock(lock('b', 62_001));
    expect(second?.fence).toBe(2);
    await store.releaseRotationLock(second!);
    // Released means free at once, even for a clock behind the releasing one.
    expect((await store.acquireRotationLock(lock('c', 0)))?.fence).toBe(3);
  });

  it('refuses a write under a stale fencing number and writes nothing; the current holder writes', async () => {
    const store = await open();
    const stale = (await store.acquireRotationLock(lock('paused', 0)))!;
    const current = (await store.acquireRotationLock(lock('current', 120_000)))!;
    const auditBefore = (await store.listAudit()).length;
    expect(await codeOfAsync(write(store, stale))).toBe(ErrorCodes.ROTATION_LOCKED);
    expect(await store.listCaGenerations()).toEqual([]);
    expect(await store.listAudit()).toHaveLength(auditBefore);
    await write(store, current);
    expect((await store.listCaGenerations()).map((row) => row.generation)).toEqual([7]);
  });

  it('answers the last valid_before of a CA key, undefined for a key that signed nothing', async () => {
    const store = await open();
    expect(await store.lastValidBefore('ssh-user-ca/1')).toBeUndefined();
  });
}

describe('rotation lock on SQLite', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));
  lockCases(async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    return (await openTempStore(dir)).store;
  });
});

describe.skipIf(!postgresAvailable())('rotation lock on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let databases = 0;
  const stores: Store[] = [];
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    cluster?.stop();
  });
  lockCases(async () => {
    databases += 1;
    const store = await openPostgresStore({ url: cluster.createDatabase(`jitca_lock_${databases}`), clock: fixedClock(START_MS) });
    stores.push(store);
    return store;
  });
});
