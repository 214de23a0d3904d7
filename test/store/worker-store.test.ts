import { mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, JitcaError, isJitcaError } from '../../src/errors.ts';
import { systemClock } from '../../src/clock.ts';
import { openStore } from '../../src/store/store.ts';
import { openWorkerStore } from '../../src/store/worker-store.ts';
import type { Store } from '../../src/store/types.ts';
import { deniedEntry, issuedEntry, makeTempDir, removeDir } from './store-fixtures.ts';

describe('the store on its own thread', () => {
  let dir: string | undefined;
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    if (dir !== undefined) removeDir(dir);
    store = undefined;
    dir = undefined;
  });

  it('commits concurrent decisions durably in shared transactions, with a linear chain', async () => {
    dir = makeTempDir();
    const sqlitePath = path.join(dir, 'jitca.sqlite');
    store = await openWorkerStore({ sqlitePath });
    const records = await Promise.all(Array.from({ length: 50 }, (_, i) => store!.recordDecision(issuedEntry(`req-${i}`))));
    expect(records.map((record) => record.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(store.stats().entriesCommitted).toBe(50);
    expect(store.stats().commits).toBeLessThan(50);
    // Resolved means durable: a separate connection sees every row.
    const reader = new Database(sqlitePath, { readonly: true });
    expect((reader.prepare('select count(*) as n from certificates').get() as { n: number }).n).toBe(50);
    reader.close();
    expect(await store.verifyAudit()).toMatchObject({ ok: true, records: 50 });
    // Anchors and the head travel across the thread boundary too.
    const head = await store.auditHead();
    expect(head).toEqual({ seq: 50, hash: records.find((record) => record.seq === 50)?.hash });
    expect(await store.verifyAudit([head!])).toEqual({ ok: true, records: 50 });
    expect(await store.auditCheckpoint()).toBeUndefined();
    // The thread's own isolate: what /metrics exports as jitca_store_thread_heap_bytes.
    const heap = await store.threadHeap();
    expect(heap!.usedBytes).toBeGreaterThan(0);
    expect(heap!.totalBytes).toBeGreaterThanOrEqual(heap!.usedBytes);
    expect(await store.verifyAudit([{ seq: 51, hash: head!.hash }])).toEqual({ ok: false, records: 50, firstBroken: { seq: 51, reason: 'truncated' } });
  });

  it('has every method the in-process store has, each answering as that store does on the same file', async () => {
    dir = makeTempDir();
    const sqlitePath = path.join(dir, 'jitca.sqlite');
    const local = await openStore({ sqlitePath, clock: systemClock });
    try {
      const issued = issuedEntry('req-a');
      await local.recordDecision(issued);
      await local.recordDecision(deniedEntry('req-b'));
      store = await openWorkerStore({ sqlitePath });
      expect(Object.keys(store).sort()).toEqual(Object.keys(local).sort());
      const serial = issued.certificate!.serial;
      // Each read goes to the method of the same name on the thread: one name mixed up answers differently.
      const reads = (s: Store) =>
        Promise.all([
          s.getRequest('req-a'),
          s.getRequest('req-b'),
          s.findCertificateBySerial(serial),
          s.listApprovals('req-a'),
          s.listRequests({ states: ['issued', 'denied'], scope: { requester: 'alice@example.com', roles: ['oncall-payments'] }, limit: 5 }),
          s.countRequests('issued'),
          s.countRequests('denied'),
          s.listOverduePending('2030-01-01T00:00:00.000Z', 5),
          s.listRevocations('2025-03-01T12:10:00.000Z'),
          s.findRevocation(serial),
          s.revocationsRevision(),
          s.listRetired('2030-01-01T00:00:00.000Z', 10),
          s.listAudit({ afterSeq: 1 }),
          s.verifyAudit(),
          s.auditHead(),
          s.listEnrolledKeys(),
          s.listEnrolledKeys({ owner: 'alice' }),
          s.findEnrolledKey({ fingerprint: 'SHA256:k1' }),
          s.notificationBacklog(),
          s.listLocalUsers(),
          s.findLocalUser('lena'),
        ]);
      expect(await reads(store)).toEqual(await reads(local));
      // And the writes: a revocation through the thread is what the in-process store reads back.
      await store.recordRevocation({ serial, caKeyId: 'ssh-user-ca/1', validBefore: '2025-03-01T12:30:00.000Z', revokedBy: 'admin', reason: 'test', event: { type: 'ssh.revoked', actor: 'admin', data: { serial } } });
      await store.appendAudit({ type: 'policy.loaded', actor: 'system', data: {} });
      await store.recordKeyEnrollment({
        key: { id: 'k1', owner: 'alice', fingerprint: 'SHA256:k1', publicKey: 'ssh-ed25519 AAAA', kind: 'software', attested: false },
        event: { type: 'key.enrolled', actor: 'alice', data: {} },
      });
      expect(await reads(store)).toEqual(await reads(local));
      await store.recordKeyRemoval({ id: 'k1', owner: 'alice', event: { type: 'key.removed', actor: 'alice', data: {} } });
      expect(await reads(store)).toEqual(await reads(local));
      await store.recordLocalUser({
        user: { name: 'lena', groups: ['sre'], fingerprint: 'SHA256:lena', publicKey: 'ssh-ed25519 AAAA', addedBy: 'local:root' },
        event: { type: 'user.added', actor: 'local:root', data: {} },
      });
      expect(await reads(store)).toEqual(await reads(local));
      const limits = { perName: 1, perAddress: 1, nowIso: '2025-03-01T12:00:00.000Z' };
      expect(await store.issueAuthChallenge({ id: 'c1', purpose: 'login', name: 'lena', address: '192.0.2.1', expiresAt: '2025-03-01T12:02:00.000Z' }, limits)).toBe('issued');
      expect(await local.consumeAuthChallenge('c1', 'login')).toMatchObject({ name: 'lena' });
      expect(await store.consumeAuthChallenge('c1', 'login')).toBeUndefined();
      expect((await local.listRevocations('2025-03-01T12:10:00.000Z')).map((revocation) => revocation.serial)).toEqual([serial]);
    } finally {
      await local.close();
    }
  });

  it('carries error codes across the thread boundary and writes nothing for the failed entry', async () => {
    dir = makeTempDir();
    store = await openWorkerStore({ sqlitePath: path.join(dir, 'jitca.sqlite') });
    const first = issuedEntry('req-a');
    await store.recordDecision(first);
    const duplicate = issuedEntry('req-b', first.certificate!.serial);
    const failure = await store.recordDecision(duplicate).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(JitcaError);
    expect((failure as JitcaError).code).toBe(ErrorCodes.STORE_CONFLICT);
    expect((failure as JitcaError).retryable).toBe(true);
    expect(await store.getRequest('req-b')).toBeUndefined();
    await store.recordDecision(deniedEntry('req-c'));
    expect((await store.listAudit()).map((record) => record.requestId)).toEqual(['req-a', 'req-c']);
  });

  it('fails fast with ERR_STORE_UNAVAILABLE when the database cannot be opened', async () => {
    const failure = await openWorkerStore({ sqlitePath: '/nonexistent-dir/jitca.sqlite' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(JitcaError);
    expect((failure as JitcaError).code).toBe(ErrorCodes.STORE_UNAVAILABLE);
  });

  it('a store thread that dies fails its pending calls with ERR_STORE_UNAVAILABLE; a new thread serves once the database can be opened again', async () => {
    dir = makeTempDir();
    const volume = path.join(dir, 'volume');
    mkdirSync(volume);
    const threads: Worker[] = [];
    // The store keeps its Worker to itself; catch it as it subscribes to its events.
    const subscribe = Worker.prototype.on;
    Worker.prototype.on = function (this: Worker, ...args: Parameters<Worker['on']>) {
      if (!threads.includes(this)) threads.push(this);
      return subscribe.apply(this, args);
    } as Worker['on'];
    try {
      store = await openWorkerStore({ sqlitePath: path.join(volume, 'jitca.db') });
      await store.recordDecision(issuedEntry('req-before'));
      expect(threads).toHaveLength(1);

      const interrupted = store.recordDecision(issuedEntry('req-interrupted')).catch((error: unknown) => error);
      await threads[0]!.terminate(); // as an out-of-memory or native crash would end it
      expect(isJitcaError(await interrupted, ErrorCodes.STORE_UNAVAILABLE)).toBe(true);

      // The replacement cannot open the database while its volume is away...
      renameSync(volume, `${volume}.away`);
      const writeUntilCommitted = async (): Promise<unknown> => {
        let result: unknown;
        for (let attempt = 0; attempt < 30; attempt++) {
          result = await store!.recordDecision(issuedEntry(`req-after-${attempt}`)).catch((error: unknown) => error);
          if (!(result instanceof Error)) return result;
          expect(isJitcaError(result, ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
          if (threads.length === 2) return result;
          await sleep(100);
        }
        return result;
      };
      expect(isJitcaError(await writeUntilCommitted(), ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
      expect(threads).toHaveLength(2);
      // ...and opens it at a later call once it is back.
      renameSync(`${volume}.away`, volume);
      expect(await store.recordDecision(issuedEntry('req-back'))).toMatchObject({ type: 'ssh.issued' });
      expect(threads).toHaveLength(2);
      const requestIds = (await store.listAudit()).map((record) => record.requestId);
      expect(requestIds[0]).toBe('req-before');
      expect(requestIds.at(-1)).toBe('req-back');
      expect((await store.verifyAudit()).ok).toBe(true);
    } finally {
      Worker.prototype.on = subscribe;
    }
  });
});
