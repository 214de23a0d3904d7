/**
 * The batch writer keeps the audit head (seq, hash) in memory for one transaction: read at its
 * start, advanced only by entries that made it in. These tests fail entries and whole batches at
 * the point where the next seq has already been computed, and write from a second connection in
 * between, and check the chain that results has no gap, no reused seq and verifies.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import type { AuditRecord } from '../../src/store/types.ts';
import { deniedEntry, issuedEntry, openTempStore, removeDir } from './store-fixtures.ts';
import type { TempStore } from './store-fixtures.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function open(dir?: string): Promise<TempStore> {
  const t = await openTempStore(dir);
  if (dir === undefined) cleanups.push(() => removeDir(t.dir));
  cleanups.push(() => t.store.close());
  return t;
}

/** A second connection to the same file, as another process would have. */
function rawConnection(dbPath: string): Database.Database {
  const raw = new Database(dbPath);
  cleanups.push(() => {
    raw.close();
  });
  return raw;
}

function seqs(records: AuditRecord[]): number[] {
  return records.map((r) => r.seq);
}

describe('audit head across entries, batches and writers', () => {
  it('an entry whose audit insert fails is rolled back without taking a seq; the rest of its batch follows on', async () => {
    const { store, dbPath } = await open();
    await store.recordDecision(issuedEntry('req-first'));
    // Fails the audit insert itself, i.e. after the entry's seq and prevHash were computed and
    // its request and certificate rows were written.
    rawConnection(dbPath).exec(
      `create trigger refuse_mallory before insert on audit_log when new.actor = 'mallory@example.com'
       begin select raise(abort, 'refused by test trigger'); end`,
    );
    const commitsBefore = store.stats().commits;

    const results = await Promise.allSettled([
      store.recordDecision(issuedEntry('req-a')),
      store.recordDecision(deniedEntry('req-refused')), // actor mallory@example.com
      store.recordDecision(issuedEntry('req-b')),
    ]);

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = results[1]?.status === 'rejected' ? results[1].reason : undefined;
    expect(isJitcaError(refused, ErrorCodes.STORE_FAILURE)).toBe(true);
    expect(store.stats().commits).toBe(commitsBefore + 1);
    const [a, , b] = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    expect([a?.seq, b?.seq]).toEqual([2, 3]);
    expect(b?.prevHash).toBe(a?.hash);
    // Nothing of the refused entry was written, its request row included.
    expect(await store.getRequest('req-refused')).toBeUndefined();
    expect(seqs(await store.listAudit())).toEqual([1, 2, 3]);
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 3 });
  });

  it('a failed entry at the head of a batch leaves the seq for the next entry', async () => {
    const { store } = await open();
    const first = issuedEntry('req-first');
    await store.recordDecision(first);
    const results = await Promise.allSettled([
      store.recordDecision(issuedEntry('req-dup', first.certificate?.serial)),
      store.recordDecision(deniedEntry('req-next')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(results[1]?.status === 'fulfilled' ? results[1].value.seq : undefined).toBe(2);
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 2 });
  });

  it('a batch rolled back as a whole advances nothing, not even by its entries that had gone in: the next batch continues from the committed head', async () => {
    const { store, dbPath } = await open();
    const before = await store.recordDecision(issuedEntry('req-before'));
    const raw = rawConnection(dbPath);
    // When req-y is written (after req-x went in at seq 2), takes the seq the writer computed for
    // req-y, inside the same transaction, as a second writer would: the batch must abort (not skip
    // the seq) and roll back entirely, req-x included.
    raw.exec(
      `create trigger take_next_seq after insert on requests when new.id = 'req-y'
       begin
         insert into audit_log (seq, at, type, actor, data, prev_hash, hash)
         values ((select max(seq) + 1 from audit_log), 'x', 'ca.rotated', 'intruder', '{}', 'x', 'x');
       end`,
    );
    const results = await Promise.allSettled([
      store.recordDecision(issuedEntry('req-x')),
      store.recordDecision(issuedEntry('req-y')),
    ]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect(isJitcaError(result.status === 'rejected' ? result.reason : undefined, ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
    }
    expect(store.stats().rollbacks).toBe(1);
    expect(await store.getRequest('req-x')).toBeUndefined();
    expect(seqs(await store.listAudit())).toEqual([1]);

    raw.exec('drop trigger take_next_seq');
    const [x, y] = await Promise.all([store.recordDecision(issuedEntry('req-x')), store.recordDecision(issuedEntry('req-y'))]);
    expect([x.seq, y.seq]).toEqual([2, 3]);
    expect(x.prevHash).toBe(before.hash);
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 3 });
  });

  it('records another writer committed between batches are honoured: seqs interleave and the chain verifies', async () => {
    const first = await open();
    const second = await open(first.dir);
    const written: AuditRecord[] = [];
    for (let round = 0; round < 5; round++) {
      written.push(...(await Promise.all([0, 1, 2].map((i) => first.store.recordDecision(issuedEntry(`req-1-${round}-${i}`))))));
      written.push(await second.store.appendAudit({ type: 'ca.rotated', actor: 'system', data: { round } }));
      written.push(await second.store.recordDecision(deniedEntry(`req-2-${round}`)));
    }
    expect(seqs(written)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    for (let i = 1; i < written.length; i++) expect(written[i]?.prevHash).toBe(written[i - 1]?.hash);
    expect(await first.store.verifyAudit()).toEqual({ ok: true, records: 25 });
    expect(await second.store.listAudit()).toEqual(written);
  });
});
