/**
 * The store thread and its caller exchange one message per event-loop turn, carrying every call
 * (or reply) of that turn. Batching must not change what a caller sees: each promise settles on
 * its own, only after its entry is durable, and one call that cannot be sent fails alone.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openWorkerStore } from '../../src/store/worker-store.ts';
import type { DecisionEntry, Store } from '../../src/store/types.ts';
import { deniedEntry, issuedEntry, makeTempDir, removeDir } from './store-fixtures.ts';

describe('the store thread, with calls and replies batched per turn', () => {
  let dir: string | undefined;
  let store: Store | undefined;
  let reader: Database.Database | undefined;
  afterEach(async () => {
    reader?.close();
    await store?.close();
    if (dir !== undefined) removeDir(dir);
    reader = undefined;
    store = undefined;
    dir = undefined;
  });

  async function open(): Promise<{ store: Store; sqlitePath: string }> {
    dir = makeTempDir();
    const sqlitePath = path.join(dir, 'jitca.sqlite');
    store = await openWorkerStore({ sqlitePath });
    return { store, sqlitePath };
  }

  it('resolves each call only once its entry is committed: another connection sees it at that moment', async () => {
    const { store, sqlitePath } = await open();
    reader = new Database(sqlitePath, { readonly: true });
    const certificateRows = reader.prepare('select count(*) as n from certificates where request_id = ?');
    const seenAtResolve: number[] = [];
    const calls = Array.from({ length: 40 }, (_, i) =>
      store.recordDecision(issuedEntry(`req-${i}`)).then((record) => {
        seenAtResolve.push((certificateRows.get(`req-${i}`) as { n: number }).n);
        return record;
      }),
    );
    const records = await Promise.all(calls);
    expect(seenAtResolve).toEqual(Array.from({ length: 40 }, () => 1));
    expect(records.map((r) => r.requestId)).toEqual(Array.from({ length: 40 }, (_, i) => `req-${i}`));
    expect(store.stats().entriesCommitted).toBe(40);
  });

  it('a call that cannot be sent to the thread fails alone; the calls made with it in the same turn commit', async () => {
    const { store } = await open();
    const unsendable: DecisionEntry = deniedEntry('req-unsendable');
    unsendable.event.data = { callback: () => 'not data' };
    const results = await Promise.allSettled([
      store.recordDecision(issuedEntry('req-a')),
      store.recordDecision(unsendable),
      store.recordDecision(deniedEntry('req-b')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await store.getRequest('req-unsendable')).toBeUndefined();
    expect((await store.listAudit()).map((r) => [r.seq, r.requestId])).toEqual([
      [1, 'req-a'],
      [2, 'req-b'],
    ]);
  });

  it('reads and writes made in one turn each get their own answer', async () => {
    const { store } = await open();
    await store.recordDecision(issuedEntry('req-old'));
    const [request, written, missing, audit] = await Promise.all([
      store.getRequest('req-old'),
      store.recordDecision(deniedEntry('req-new')),
      store.getRequest('req-none'),
      store.listAudit({ limit: 1 }),
    ]);
    expect(request?.state).toBe('issued');
    expect(written.seq).toBe(2);
    expect(missing).toBeUndefined();
    expect(audit.map((r) => r.requestId)).toEqual(['req-old']);
  });
});
