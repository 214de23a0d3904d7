/**
 * The notification outbox on a real PostgreSQL (test/support/postgres.ts): the same behaviour as
 * on SQLite, and the fence: a replica whose leader term has passed can neither claim rows nor mark
 * them sent or dead, so the new leader sends what the deposed one could not record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { postgresLeaseBackend } from '../../src/ha/postgres-lease.ts';
import { createDeliveryCounters, createOutboxDelivery } from '../../src/notify/outbox-delivery.ts';
import type { WebhookSink } from '../../src/notify/webhook-sinks.ts';
import { openPostgresDatabase, openPostgresStore } from '../../src/store/postgres-database.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { Store } from '../../src/store/types.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { checkOutbox, claimAt, OUTBOX_SINKS, pendingEntry } from '../store/outbox-cases.ts';
import { START_MS } from '../store/store-fixtures.ts';
import { startPostgres, type PostgresCluster } from '../support/postgres.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const LEASE = 'jitca-singletons';
let cluster: PostgresCluster;
let receiver: WebhookReceiver;
let nextDatabase = 0;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  cluster = await startPostgres();
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await receiver?.close();
  cluster?.stop();
});

async function open(): Promise<{ store: Store; url: string; clock: ReturnType<typeof fixedClock> }> {
  nextDatabase += 1;
  const url = cluster.createDatabase(`jitca_outbox_${nextDatabase}`);
  const clock = fixedClock(START_MS);
  const store = await openPostgresStore({ url, clock, outboxSinks: OUTBOX_SINKS });
  closers.push(() => store.close());
  return { store, url, clock };
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('the notification outbox (PostgreSQL)', () => {
  it('behaves as on SQLite: rows with their audit record, none for a failed write, claim, settle, retry, dead', async () => {
    const { store } = await open();
    await checkOutbox(store);
  });

  it('refuses every claim and mark of a deposed leader, and the new leader sends what it could not mark sent', async () => {
    const { store, url, clock } = await open();
    const db = openPostgresDatabase(url, { maxConnections: 2 });
    closers.push(() => db.destroy());
    const lease = postgresLeaseBackend(db);
    const old = await lease.tryAcquire(LEASE, 'replica-a', 60_000);
    expect(old).toBeDefined();
    const record = await store.recordDecision(pendingEntry('req_fenced'));

    // The old leader claims under its term...
    const claimed = await store.claimNotifications({ ...claimAt(START_MS), leader: old! });
    expect(claimed).toHaveLength(2);
    // ...and is deposed (its lease handed over: released here, as an expiry would).
    await lease.release(old!);
    const current = await lease.tryAcquire(LEASE, 'replica-b', 60_000);
    expect(current?.term).toBe(old!.term + 1);

    const row = claimed[0]!;
    const settle = await errorOf(store.settleNotification({ id: row.id, attempt: row.attempt, outcome: 'sent', atIso: new Date(START_MS).toISOString(), leader: old! }));
    expect(isJitcaError(settle, ErrorCodes.LEADER_FENCED)).toBe(true);
    const dead = await errorOf(
      store.recordNotificationDead({ id: row.id, attempt: row.attempt, error: 'x', leader: old!, event: { type: 'notification.dead', actor: 'system', data: {} } }),
    );
    expect(isJitcaError(dead, ErrorCodes.LEADER_FENCED)).toBe(true);
    const claim = await errorOf(store.claimNotifications({ ...claimAt(START_MS + 120_000), leader: old! }));
    expect(isJitcaError(claim, ErrorCodes.LEADER_FENCED)).toBe(true);
    // Nothing of theirs was written: no audit record, both rows still pending.
    expect(await store.auditHead()).toEqual({ seq: record.seq, hash: record.hash });
    expect(await store.notificationBacklog()).toMatchObject({ pending: 2, dead: 0 });

    // The deposed leader's delivery job posts but cannot record it; the new leader's sends again.
    receiver.received.length = 0;
    const sinks: WebhookSink[] = OUTBOX_SINKS.map((sink) => ({ name: sink.name, format: 'slack', url: new URL(`${receiver.base}/${sink.name}`), kinds: sink.kinds }));
    const settings = { timeoutMs: 2000, maxResponseBytes: 4096, maxAttempts: 3, backoffBaseMs: 1000, backoffCapMs: 60_000, pollIntervalMs: 1000, sentRetentionDays: 7 };
    const log = { info: () => undefined, warn: () => undefined };
    const job = (leader: typeof old) => createOutboxDelivery({ store, sinks, settings, policy: () => parsePolicy(JSON.stringify(testPolicy)), clock, log, counters: createDeliveryCounters(), leader });
    clock.advance(120_000); // past the old claim
    const deposed = await errorOf(job(old).deliverDue());
    expect(isJitcaError(deposed, ErrorCodes.LEADER_FENCED)).toBe(true);
    expect(receiver.received).toHaveLength(0);
    expect(await job(current).deliverDue()).toBe(2);
    expect(receiver.received.map((request) => request.headers['idempotency-key']).sort()).toEqual([`${record.seq}:siem`, `${record.seq}:slack`]);
    expect(await store.notificationBacklog()).toEqual({ pending: 0, dead: 0 });
  });
});
