/**
 * The PostgreSQL store against a real, private PostgreSQL 15 cluster (test/support/postgres.ts):
 * the same behaviour as the SQLite store where callers notice it, plus what only a shared database
 * has to get right: two replicas appending to one audit chain, and a database restart.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { AUDIT_CHAIN_LOCK_KEY, openPostgresDatabase, openPostgresStore } from '../../src/store/postgres-database.ts';
import type { AuditRecord, Store } from '../../src/store/types.ts';
import { startPostgres } from '../support/postgres.ts';
import type { PostgresCluster } from '../support/postgres.ts';
import { checkAuditArchive } from './audit-archive-cases.ts';
import { checkActiveCertificates } from './active-certificate-cases.ts';
import { checkEnrolledKeys } from './enrolled-key-cases.ts';
import { checkAuthChallenges, checkEnrollChallenges, checkLocalUsers } from './local-identity-cases.ts';
import { checkRequestList } from './request-list-cases.ts';
import { checkRevocationBackfill } from './revocation-backfill-case.ts';
import { deniedEntry, freshSerial, issuedEntry, START_MS } from './store-fixtures.ts';

let cluster: PostgresCluster;
let nextDatabase = 0;
const opened: Store[] = [];

beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(() => {
  cluster?.stop();
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => undefined);
});

/** A fresh database per test, so seqs start at 1 and tests stay independent. */
function freshDatabase(): string {
  nextDatabase += 1;
  return cluster.createDatabase(`jitca_test_${nextDatabase}`);
}

async function open(url: string, maxBatch?: number): Promise<{ store: Store; clock: ReturnType<typeof fixedClock> }> {
  const clock = fixedClock(START_MS);
  const store = await openPostgresStore({ url, clock, maxBatch });
  opened.push(store);
  return { store, clock };
}

/** Runs one query outside the store, as an operator (or an attacker) with psql would. */
async function query<Row extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function rowCounts(url: string): Promise<Record<string, number>> {
  const [row] = await query<Record<string, string>>(
    url,
    `select (select count(*) from requests) as requests, (select count(*) from certificates) as certificates,
            (select count(*) from audit_log) as audit_log`,
  );
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('PostgreSQL store', () => {
  it('writes the request, the certificate and the audit record together', async () => {
    const url = freshDatabase();
    const { store, clock } = await open(url);
    clock.advance(5000);
    const entry = issuedEntry('req-1');
    const record = await store.recordDecision(entry);

    expect(record).toMatchObject({ seq: 1, at: '2025-03-01T12:00:05.000Z', type: 'ssh.issued', prevHash: '0'.repeat(64) });
    expect(await store.getRequest('req-1')).toEqual({ ...entry.request, updatedAt: '2025-03-01T12:00:05.000Z', version: 0 });
    expect(await store.findCertificateBySerial(entry.certificate?.serial ?? '')).toEqual({
      ...entry.certificate,
      createdAt: '2025-03-01T12:00:05.000Z',
    });
    expect(await store.listAudit()).toEqual([record]);
    expect(await store.countRequests('issued')).toBe(1);
    expect(await store.auditHead()).toEqual({ seq: 1, hash: record.hash });
    const serial = entry.certificate?.serial ?? '';
    const certificateFacts = { caKeyId: 'ssh-user-ca/1', validBefore: entry.certificate?.validBefore ?? '' };
    await store.recordRevocation({ serial, ...certificateFacts, revokedBy: 'secteam', reason: 'lost', event: { type: 'ssh.revoked', actor: 'secteam', data: { serial } } });
    expect(await store.listRevocations('2025-03-01T12:00:00.000Z')).toMatchObject([{ serial, caKeyId: 'ssh-user-ca/1', revokedBy: 'secteam' }]);
    expect(await store.findRevocation(serial)).toMatchObject({ serial, revokedBy: 'secteam', reason: 'lost' });
    const again = await errorOf(store.recordRevocation({ serial, ...certificateFacts, revokedBy: 'secteam', reason: 'lost', event: { type: 'ssh.revoked', actor: 'secteam', data: {} } }));
    expect(isJitcaError(again, ErrorCodes.STORE_CONFLICT)).toBe(true);
    expect(await store.verifyAudit([{ seq: 1, hash: record.hash }])).toEqual({ ok: true, records: 2 });
    expect(await rowCounts(url)).toEqual({ requests: 1, certificates: 1, audit_log: 2 });
  });

  it('lists requests as the SQLite store does: newest first by (createdAt, id), within states and scope, page after page', async () => {
    const { store } = await open(freshDatabase());
    await checkRequestList(store);
  });

  it('archives and truncates the audit log behind checkpoints, and detects tampering, as the SQLite store does (migration 0015)', async () => {
    const url = freshDatabase();
    const { store, clock } = await open(url);
    await checkAuditArchive(store, clock, async (statement) => {
      await query(url, statement);
    });
  });

  it('counts active certificates by kind, namespace and operation as the SQLite store does', async () => {
    const { store } = await open(freshDatabase());
    await checkActiveCertificates(store);
  });

  it('records, lists and removes enrolled keys as the SQLite store does (migration 0011)', async () => {
    const { store } = await open(freshDatabase());
    await checkEnrolledKeys(store);
  });

  it('records local users and spends auth challenges as the SQLite store does (migration 0012)', async () => {
    const { store } = await open(freshDatabase());
    await checkLocalUsers(store);
    await checkAuthChallenges(store);
    await checkEnrollChallenges(store);
  });

  it('rejects a duplicate serial with ERR_STORE_CONFLICT and writes nothing of that entry', async () => {
    const url = freshDatabase();
    const { store } = await open(url);
    const serial = freshSerial();
    await store.recordDecision(issuedEntry('req-a', serial));

    // Submitted together: they share one transaction, and only the duplicate is rolled back.
    const [denied, duplicate, later] = await Promise.allSettled([
      store.recordDecision(deniedEntry('req-b')),
      store.recordDecision(issuedEntry('req-dup', serial)),
      store.recordDecision(deniedEntry('req-c')),
    ]);
    expect(duplicate.status).toBe('rejected');
    const error = duplicate.status === 'rejected' ? duplicate.reason : undefined;
    expect(isJitcaError(error) ? error.code : error).toBe(ErrorCodes.STORE_CONFLICT);
    expect(denied.status === 'fulfilled' ? denied.value.seq : 0).toBe(2);
    expect(later.status === 'fulfilled' ? later.value.seq : 0).toBe(3);

    expect(await store.getRequest('req-dup')).toBeUndefined();
    expect((await store.findCertificateBySerial(serial))?.requestId).toBe('req-a');
    expect(await rowCounts(url)).toEqual({ requests: 3, certificates: 1, audit_log: 3 });
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 3 });
  });

  it('verifyAudit reports the first record changed behind its back', async () => {
    const url = freshDatabase();
    const { store } = await open(url);
    for (let i = 0; i < 5; i++) await store.recordDecision(i % 2 === 0 ? issuedEntry(`req-${i}`) : deniedEntry(`req-${i}`));
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 5 });

    await query(url, `update audit_log set data = '{"rule":"allow-everything"}' where seq = 3`);
    expect(await store.verifyAudit()).toEqual({ ok: false, records: 2, firstBroken: { seq: 3, reason: 'hash-mismatch' } });
  });

  it('a replica stuck holding the audit lock costs the others a quick retryable 503, not a hang; the lock is all it took', async () => {
    const url = freshDatabase();
    const clock = fixedClock(START_MS);
    const store = await openPostgresStore({ url, clock, statementTimeoutMs: 500 });
    opened.push(store);
    // Another "replica" mid-batch: it holds the audit-chain lock and does nothing more.
    const stuck = new pg.Client({ connectionString: url });
    await stuck.connect();
    try {
      await stuck.query('begin');
      await stuck.query(`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK_KEY})`);
      const started = Date.now();
      const error = await errorOf(store.recordDecision(deniedEntry('req-stuck')));
      expect(Date.now() - started).toBeLessThan(5000);
      expect(isJitcaError(error, ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
      expect((error as { retryable?: boolean }).retryable).toBe(true);
      await stuck.query('rollback');
    } finally {
      await stuck.end();
    }
    const record = await store.recordDecision(deniedEntry('req-after'));
    expect(record.seq).toBe(1);
    expect(await rowCounts(url)).toEqual({ requests: 1, certificates: 0, audit_log: 1 });
  });

  it("jitca's sessions carry the statement and idle-in-transaction timeouts", async () => {
    const db = openPostgresDatabase(freshDatabase(), { statementTimeoutMs: 1234 });
    try {
      const show = async (name: string): Promise<unknown> =>
        (await sql<Record<string, unknown>>`${sql.raw(`show ${name}`)}`.execute(db)).rows[0]?.[name];
      expect(await show('statement_timeout')).toBe('1234ms');
      expect(await show('idle_in_transaction_session_timeout')).toBe('30s');
    } finally {
      await db.destroy();
    }
  });

  it('two replicas deciding the same request from the same version: exactly one decision lands', async () => {
    const url = freshDatabase();
    const [a, b] = await Promise.all([open(url), open(url)]);
    const pending = { ...issuedEntry('req-race').request, state: 'pending' as const };
    await a.store.recordDecision({ request: pending, event: { type: 'request.pending', actor: 'alice@example.com', data: {} } });
    for (let round = 0; round < 10; round += 1) {
      const read = await b.store.getRequest('req-race');
      const version = read?.version ?? -1;
      // Both replicas read `version` and decide at once; the advisory lock orders their transactions.
      const decide = (store: Store, approver: string): Promise<unknown> =>
        errorOf(
          store.recordDecision({
            request: { ...pending, expectedVersion: version },
            approval: { approver: `${approver}-${round}@example.com` },
            event: { type: 'request.approved', actor: `${approver}-${round}@example.com`, data: {} },
          }),
        );
      const outcomes = await Promise.all([decide(a.store, 'bob'), decide(b.store, 'carol')]);
      const refused = outcomes.filter((outcome) => isJitcaError(outcome, ErrorCodes.REQUEST_CHANGED));
      expect(outcomes.filter((outcome) => outcome === undefined)).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect((await a.store.getRequest('req-race'))?.version).toBe(version + 1);
    }
    expect(await rowCounts(url)).toEqual({ requests: 1, certificates: 0, audit_log: 11 });
    const approvals = await query<{ n: string }>(url, 'select count(*) as n from approvals');
    expect(Number(approvals[0]?.n)).toBe(10);
    expect((await a.store.verifyAudit()).ok).toBe(true);
  });

  it('keeps one contiguous, linked chain when two replicas write 200 entries each at once', async () => {
    const url = freshDatabase();
    // Two stores = two pools, as two jitca processes would have. Small batches make the two
    // replicas' transactions interleave many times instead of once.
    const [a, b] = await Promise.all([open(url, 16), open(url, 16)]);
    const writeMany = (store: Store, replica: string): Promise<AuditRecord[]> =>
      Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          i % 4 === 3
            ? store.appendAudit({ type: 'ca.rotated', actor: 'system', data: { replica, i } })
            : store.recordDecision(i % 2 === 0 ? issuedEntry(`${replica}-${i}`) : deniedEntry(`${replica}-${i}`)),
        ),
      );
    const started = performance.now();
    const [fromA, fromB] = await Promise.all([writeMany(a.store, 'a'), writeMany(b.store, 'b')]);
    const elapsedMs = performance.now() - started;

    const returnedSeqs = [...fromA, ...fromB].map((r) => r.seq).sort((x, y) => x - y);
    expect(returnedSeqs).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    const stored = await a.store.listAudit({ limit: 10000 });
    expect(stored.map((r) => r.seq)).toEqual(returnedSeqs);
    // Every record a caller was promised is exactly what was stored.
    const bySeq = new Map(stored.map((r) => [r.seq, r]));
    for (const record of [...fromA, ...fromB]) expect(bySeq.get(record.seq)).toEqual(record);
    expect(await b.store.verifyAudit()).toEqual({ ok: true, records: 400 });
    expect(await rowCounts(url)).toEqual({ requests: 300, certificates: 200, audit_log: 400 });
    // Both replicas really did commit batches of their own.
    expect(a.store.stats().commits).toBeGreaterThan(1);
    expect(b.store.stats().commits).toBeGreaterThan(1);
    console.info(`two replicas, 400 entries, batches <= 16: ${elapsedMs.toFixed(0)} ms`);
  });

  it('fails writes as retryable ERR_STORE_UNAVAILABLE while the database is down and recovers after a restart', async () => {
    const url = freshDatabase();
    const { store } = await open(url);
    await store.recordDecision(issuedEntry('before'));

    cluster.stopServer();
    try {
      const writeError = await errorOf(store.recordDecision(issuedEntry('while-down')));
      expect(isJitcaError(writeError) ? [writeError.code, writeError.retryable] : writeError).toEqual([ErrorCodes.STORE_UNAVAILABLE, true]);
      const auditError = await errorOf(store.appendAudit({ type: 'ca.rotated', actor: 'system', data: {} }));
      expect(isJitcaError(auditError) ? auditError.code : auditError).toBe(ErrorCodes.STORE_UNAVAILABLE);
      const readError = await errorOf(store.getRequest('before'));
      expect(isJitcaError(readError) ? readError.code : readError).toBe(ErrorCodes.STORE_UNAVAILABLE);
    } finally {
      cluster.startServer();
    }

    // The same store (no jitca restart) writes again at once, continuing the chain.
    const after = await store.recordDecision(issuedEntry('after'));
    expect(after.seq).toBe(2);
    expect(await store.getRequest('while-down')).toBeUndefined();
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 2 });
  });

  it('reads the KRL\'s revocations, their revision, and the rows past retention, and removes those, as SQLite does', async () => {
    const { store } = await open(freshDatabase());
    const old = issuedEntry('req-pg-old');
    old.request.createdAt = '2024-01-01T00:00:00.000Z';
    if (old.certificate === undefined) throw new Error('fixture has a certificate');
    old.certificate.validBefore = '2024-01-01T00:30:00.000Z';
    await store.recordDecision(old);
    await store.recordDecision(issuedEntry('req-pg-live'));
    expect(await store.revocationsRevision()).toBe(0);
    const serial = old.certificate.serial;
    const revoked = await store.recordRevocation({
      serial, caKeyId: 'ssh-user-ca/1', validBefore: old.certificate.validBefore, revokedBy: 'bob', reason: 'lost',
      event: { type: 'ssh.revoked', actor: 'bob', data: { serial } },
    });
    expect(await store.revocationsRevision()).toBe(revoked.seq);
    expect((await store.listRevocations('2024-01-01T00:00:00.000Z')).map((entry) => entry.serial)).toEqual([serial]);
    expect(await store.listRevocations('2024-01-01T00:30:00.000Z')).toEqual([]);

    const retired = await store.listRetired('2024-06-01T00:00:00.000Z', 10);
    expect(retired.map((entry) => [entry.request.id, entry.certificate?.serial, entry.revocation?.reason])).toEqual([['req-pg-old', serial, 'lost']]);
    await store.recordRetention({ requestIds: ['req-pg-old'], event: { type: 'retention.pruned', actor: 'ops', data: { requests: 1 } } });
    expect(await store.getRequest('req-pg-old')).toBeUndefined();
    expect(await store.getRequest('req-pg-live')).toBeDefined();
    expect((await store.verifyAudit()).ok).toBe(true);
  });

  it('migration 0008 backfills the KRL columns of existing revocations as on SQLite', async () => {
    const db = openPostgresDatabase(freshDatabase());
    try {
      await checkRevocationBackfill(db);
    } finally {
      await db.destroy();
    }
  });

  it('opens the same database again without re-running migrations', async () => {
    const url = freshDatabase();
    const first = await open(url);
    await first.store.recordDecision(deniedEntry('req-1'));
    await first.store.close();
    const second = await open(url);
    expect((await second.store.recordDecision(deniedEntry('req-2'))).seq).toBe(2);
    expect(await second.store.verifyAudit()).toEqual({ ok: true, records: 2 });
  });

  it('keeps appending to the audit log past seq 2^31 (a 64-bit column, read back as a number)', async () => {
    const url = freshDatabase();
    const { store } = await open(url);
    const [column] = await query<{ data_type: string }>(url, `select data_type from information_schema.columns where table_name = 'audit_log' and column_name = 'seq'`);
    expect(column?.data_type).toBe('bigint');
    // A log that has already taken three billion records (only the newest one matters to the writer).
    const previousHash = 'a'.repeat(64);
    await query(
      url,
      `insert into audit_log (seq, at, type, actor, subject, request_id, data, prev_hash, hash) values ($1, $2, 'ca.rotated', 'system', null, null, '{}', $3, $4)`,
      [3_000_000_000, '2025-03-01T12:00:00.000Z', '0'.repeat(64), previousHash],
    );
    const record = await store.recordDecision(deniedEntry('req-1'));
    expect(record).toMatchObject({ seq: 3_000_000_001, prevHash: previousHash });
    expect(await store.auditHead()).toEqual({ seq: 3_000_000_001, hash: record.hash });
    expect((await store.listAudit({ afterSeq: 3_000_000_000 })).map((r) => r.seq)).toEqual([3_000_000_001]);
  });

  it('never puts the password from the URL into an error', async () => {
    const secret = 'hunter2-s3cret';
    // Nothing listens on port 1: the connection is refused.
    const unreachable = await errorOf(
      openPostgresStore({ url: `postgres://jitca:${secret}@127.0.0.1:1/jitca`, clock: fixedClock(START_MS) }),
    );
    expect(isJitcaError(unreachable) ? [unreachable.code, unreachable.retryable] : unreachable).toEqual([ErrorCodes.STORE_UNAVAILABLE, true]);
    const malformed = await errorOf(openPostgresStore({ url: `mysql://jitca:${secret}@db/jitca`, clock: fixedClock(START_MS) }));
    expect(isJitcaError(malformed) ? malformed.code : malformed).toBe(ErrorCodes.CONFIG_INVALID);
    for (const error of [unreachable, malformed]) {
      const jitcaError = error as Error & { details?: unknown };
      expect(`${jitcaError.message} ${JSON.stringify(jitcaError.details ?? {})} ${String(jitcaError.stack)}`).not.toContain(secret);
    }
  });
});
