import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import type { DecisionEntry } from '../../src/store/types.ts';
import { deniedEntry, freshSerial, issuedEntry, tempStorePerTest } from './store-fixtures.ts';
import type { TempStore } from './store-fixtures.ts';

const openTemp = tempStorePerTest();

function open(): Promise<TempStore> {
  return openTemp();
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isJitcaError(error) ? error.code : error).toBe(code);
}

describe('recordDecision', () => {
  it('writes the request, the certificate and the audit record together', async () => {
    const { store, clock } = await open();
    clock.advance(5000);
    const entry = issuedEntry('req-1');
    const record = await store.recordDecision(entry);

    expect(record).toMatchObject({
      seq: 1,
      at: '2025-03-01T12:00:05.000Z',
      type: 'ssh.issued',
      requestId: 'req-1',
      prevHash: '0'.repeat(64),
    });
    expect(record.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.getRequest('req-1')).toEqual({ ...entry.request, updatedAt: '2025-03-01T12:00:05.000Z', version: 0 });
    expect(await store.findCertificateBySerial(entry.certificate?.serial ?? '')).toEqual({
      ...entry.certificate,
      createdAt: '2025-03-01T12:00:05.000Z',
    });
    expect(await store.listAudit()).toEqual([record]);
  });

  it('keeps what was asked when a pending request is later issued', async () => {
    const { store, clock } = await open();
    const issued = issuedEntry('req-2');
    const pending: DecisionEntry = {
      request: { ...issued.request, state: 'pending', expiresAt: '2025-03-01T13:00:00.000Z' },
      event: { type: 'request.pending', actor: 'alice@example.com', data: { approvers: 2 } },
    };
    await store.recordDecision(pending);
    clock.advance(60_000);
    await store.recordDecision({
      request: { ...issued.request, state: 'approved', body: { principals: ['root'] } },
      approval: { approver: 'bob@example.com' },
      event: { type: 'request.approved', actor: 'bob@example.com', data: {} },
    });
    clock.advance(60_000);
    await store.recordDecision(issued);

    const stored = await store.getRequest('req-2');
    expect(stored).toMatchObject({
      state: 'issued',
      body: issued.request.body,
      createdAt: issued.request.createdAt,
      updatedAt: '2025-03-01T12:02:00.000Z',
    });
    expect(stored?.expiresAt).toBeUndefined();
    expect(await store.listApprovals('req-2')).toEqual([
      { requestId: 'req-2', approver: 'bob@example.com', at: '2025-03-01T12:01:00.000Z' },
    ]);
    expect((await store.listAudit()).map((r) => [r.seq, r.type, r.requestId])).toEqual([
      [1, 'request.pending', 'req-2'],
      [2, 'request.approved', 'req-2'],
      [3, 'ssh.issued', 'req-2'],
    ]);
  });

  it('bumps the version with every decision; a decision made from an older version is ERR_REQUEST_CHANGED and writes nothing', async () => {
    const { store } = await open();
    const issued = issuedEntry('req-v');
    const pending = { ...issued.request, state: 'pending' as const };
    await store.recordDecision({ request: pending, event: { type: 'request.pending', actor: 'alice@example.com', data: {} } });
    expect((await store.getRequest('req-v'))?.version).toBe(0);
    // Two approvers both read version 0; the first one's decision lands.
    await store.recordDecision({
      request: { ...pending, expectedVersion: 0 },
      approval: { approver: 'bob@example.com' },
      event: { type: 'request.approved', actor: 'bob@example.com', data: {} },
    });
    expect((await store.getRequest('req-v'))?.version).toBe(1);
    // The second one decided from version 0 too: refused, nothing of it written.
    await expectCode(
      store.recordDecision({ ...issued, request: { ...issued.request, expectedVersion: 0 }, approval: { approver: 'carol@example.com' } }),
      ErrorCodes.REQUEST_CHANGED,
    );
    expect(await store.getRequest('req-v')).toMatchObject({ state: 'pending', version: 1 });
    expect(await store.findCertificateBySerial(issued.certificate?.serial ?? '')).toBeUndefined();
    expect((await store.listApprovals('req-v')).map((approval) => approval.approver)).toEqual(['bob@example.com']);
    expect((await store.listAudit()).map((record) => record.type)).toEqual(['request.pending', 'request.approved']);
    // Decided again from what is there now, it lands.
    await store.recordDecision({ ...issued, request: { ...issued.request, expectedVersion: 1 }, approval: { approver: 'carol@example.com' } });
    expect(await store.getRequest('req-v')).toMatchObject({ state: 'issued', version: 2 });
    // A request that does not exist has no version to match.
    await expectCode(store.recordDecision({ ...deniedEntry('req-none'), request: { ...deniedEntry('req-none').request, expectedVersion: 0 } }), ErrorCodes.REQUEST_CHANGED);
    expect(await store.getRequest('req-none')).toBeUndefined();
    expect((await store.verifyAudit()).ok).toBe(true);
  });

  it('rejects a duplicate serial with ERR_STORE_CONFLICT and writes nothing of that entry', async () => {
    const { store } = await open();
    const serial = freshSerial();
    await store.recordDecision(issuedEntry('req-first', serial));

    await expectCode(store.recordDecision(issuedEntry('req-dup', serial)), ErrorCodes.STORE_CONFLICT);

    expect(await store.getRequest('req-dup')).toBeUndefined();
    expect((await store.findCertificateBySerial(serial))?.requestId).toBe('req-first');
    expect((await store.listAudit()).map((r) => r.requestId)).toEqual(['req-first']);
    // The caller retries with a new serial and the chain continues without a gap.
    const retried = await store.recordDecision(issuedEntry('req-dup'));
    expect(retried.seq).toBe(2);
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 2 });
  });

  it('a duplicate serial inside a concurrent batch fails alone; the rest commit in one transaction', async () => {
    const { store } = await open();
    const serial = freshSerial();
    await store.recordDecision(issuedEntry('req-first', serial));
    const commitsBefore = store.stats().commits;

    const entries = Array.from({ length: 10 }, (_, i) =>
      i === 4 ? issuedEntry('req-dup', serial) : issuedEntry(`req-batch-${i}`),
    );
    const results = await Promise.allSettled(entries.map((entry) => store.recordDecision(entry)));

    const rejected = results.flatMap((r, i) => (r.status === 'rejected' ? [[i, r.reason]] : []));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.[0]).toBe(4);
    expect(isJitcaError(rejected[0]?.[1], ErrorCodes.STORE_CONFLICT)).toBe(true);
    expect(store.stats().commits).toBe(commitsBefore + 1);

    expect(await store.getRequest('req-dup')).toBeUndefined();
    const audit = await store.listAudit();
    expect(audit.map((r) => r.requestId)).not.toContain('req-dup');
    expect(audit.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    for (const [i, entry] of entries.entries()) {
      if (i !== 4) expect((await store.getRequest(entry.request.id))?.state).toBe('issued');
    }
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 10 });
  });

  it('a second approval by the same approver conflicts and writes nothing', async () => {
    const { store } = await open();
    const approve = (state: 'pending' | 'approved'): DecisionEntry => ({
      request: { ...deniedEntry('req-3').request, state },
      approval: { approver: 'bob@example.com' },
      event: { type: 'request.approved', actor: 'bob@example.com', data: {} },
    });
    await store.recordDecision(approve('pending'));
    await expectCode(store.recordDecision(approve('approved')), ErrorCodes.STORE_CONFLICT);
    expect((await store.getRequest('req-3'))?.state).toBe('pending');
    expect(await store.listApprovals('req-3')).toHaveLength(1);
    expect(await store.listAudit()).toHaveLength(1);
  });

  it('records a denial without a certificate', async () => {
    const { store } = await open();
    const record = await store.recordDecision(deniedEntry('req-4'));
    expect(record.requestId).toBe('req-4');
    expect(await store.getRequest('req-4')).toMatchObject({ state: 'denied', kind: 'x509-client' });
    expect(record.subject).toBeUndefined();
  });

  it('accepts serials across the whole unsigned 64-bit range', async () => {
    const { store } = await open();
    await store.recordDecision(issuedEntry('req-max', '18446744073709551615'));
    await store.recordDecision(issuedEntry('req-min', '1'));
    expect((await store.findCertificateBySerial('18446744073709551615'))?.requestId).toBe('req-max');
    expect((await store.findCertificateBySerial('1'))?.requestId).toBe('req-min');
  });

  const badEntries: Array<[string, (e: DecisionEntry) => unknown]> = [
    ['serial above 2^64-1', (e) => e.certificate && (e.certificate.serial = '18446744073709551616')],
    ['negative serial', (e) => e.certificate && (e.certificate.serial = '-1')],
    ['serial with leading zero', (e) => e.certificate && (e.certificate.serial = '0123')],
    ['certificate without issued state', (e) => (e.request.state = 'approved')],
    ['certificate for another request', (e) => e.certificate && (e.certificate.requestId = 'other')],
    ['event for another request', (e) => (e.event.requestId = 'other')],
    ['unknown state', (e) => Object.assign(e.request, { state: 'revoked' })],
    ['unknown event type', (e) => Object.assign(e.event, { type: 'ssh.teleported' })],
    ['bigint in audit data', (e) => (e.event.data = { serial: 5n })],
    ['class instance in body', (e) => (e.request.body = { when: new Date(0) })],
    ['lone surrogate in actor', (e) => (e.event.actor = 'x\ud800')],
    ['empty requester', (e) => (e.request.requester = '')],
    ['malformed createdAt', (e) => (e.request.createdAt = 'yesterday')],
  ];
  for (const [name, mutate] of badEntries) {
    it(`rejects ${name} with ERR_REQUEST_INVALID and writes nothing`, async () => {
      const { store } = await open();
      const entry = issuedEntry('req-bad');
      mutate(entry);
      await expectCode(store.recordDecision(entry), ErrorCodes.REQUEST_INVALID);
      expect(await store.getRequest('req-bad')).toBeUndefined();
      expect(await store.listAudit()).toEqual([]);
    });
  }

  it('is durable once it resolves: a fresh connection sees all three rows', async () => {
    const { store, dbPath } = await open();
    const entry = issuedEntry('req-durable');
    const record = await store.recordDecision(entry);

    const raw = new Database(dbPath, { readonly: true });
    try {
      expect(raw.prepare('select state from requests where id = ?').get('req-durable')).toEqual({ state: 'issued' });
      expect(raw.prepare('select request_id from certificates where serial = ?').get(entry.certificate?.serial)).toEqual({
        request_id: 'req-durable',
      });
      expect(raw.prepare('select hash from audit_log where seq = ?').get(record.seq)).toEqual({ hash: record.hash });
    } finally {
      raw.close();
    }
  });

  it('close() waits for queued writes to commit, then refuses new ones as unavailable', async () => {
    const { store, dbPath } = await open();
    const pending = store.recordDecision(issuedEntry('req-queued'));
    await store.close();
    expect((await pending).seq).toBe(1);
    const error = await store.recordDecision(issuedEntry('req-late')).catch((e: unknown) => e);
    expect(isJitcaError(error, ErrorCodes.STORE_UNAVAILABLE) && error.retryable).toBe(true);
    await expectCode(store.getRequest('req-queued'), ErrorCodes.STORE_UNAVAILABLE);

    const raw = new Database(dbPath, { readonly: true });
    try {
      expect(raw.prepare('select count(*) as n from requests').get()).toEqual({ n: 1 });
    } finally {
      raw.close();
    }
  });
});
