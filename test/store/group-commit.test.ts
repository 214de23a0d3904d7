import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/store/types.ts';
import { deniedEntry, issuedEntry, tempStorePerTest } from './store-fixtures.ts';

const openStore = tempStorePerTest();

describe('group commit', () => {
  it('200 concurrent recordDecision calls all resolve, with contiguous seqs and far fewer than 200 commits', async () => {
    const { store } = await openStore();
    const records = await Promise.all(
      Array.from({ length: 200 }, (_, i) => store.recordDecision(issuedEntry(`req-${i}`))),
    );
    // Each caller gets its own record, in the order the calls were made.
    expect(records.map((r) => r.requestId)).toEqual(Array.from({ length: 200 }, (_, i) => `req-${i}`));
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(store.stats().commits).toBeLessThan(200);
    expect(store.stats().entriesCommitted).toBe(200);
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 200 });
  });

  it('bounds a batch at maxBatch and keeps the chain linear across batches', async () => {
    const { store } = await openStore({ maxBatch: 64 });
    const calls: Array<Promise<AuditRecord>> = [];
    for (let i = 0; i < 300; i++) {
      calls.push(
        i % 3 === 0
          ? store.appendAudit({ type: 'ca.rotated', actor: 'system', data: { i } })
          : store.recordDecision(i % 3 === 1 ? issuedEntry(`req-${i}`) : deniedEntry(`req-${i}`)),
      );
    }
    const records = await Promise.all(calls);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(store.stats().largestBatch).toBe(64);
    expect(store.stats().commits).toBe(Math.ceil(300 / 64));
    for (let i = 1; i < records.length; i++) expect(records[i]?.prevHash).toBe(records[i - 1]?.hash);
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 300 });
  });

  it('calls made in a later event-loop turn share the next batch, not one transaction each', async () => {
    const { store } = await openStore();
    const first = Array.from({ length: 50 }, (_, i) => store.recordDecision(issuedEntry(`req-a${i}`)));
    // Submitted from a later event-loop turn, after the first batch has started.
    const second = new Promise<AuditRecord[]>((resolve, reject) =>
      setImmediate(() =>
        Promise.all(Array.from({ length: 50 }, (_, i) => store.recordDecision(issuedEntry(`req-b${i}`)))).then(
          resolve,
          reject,
        ),
      ),
    );
    const records = [...(await Promise.all(first)), ...(await second)];
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(store.stats().commits).toBeLessThanOrEqual(2);
  });
});
