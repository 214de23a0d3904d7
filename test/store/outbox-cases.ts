/**
 * What the notification outbox must do, written once and run against every store implementation
 * (outbox.test.ts for SQLite, postgres-store.test.ts for PostgreSQL). The store must be opened
 * with OUTBOX_SINKS and a clock at START_MS.
 */
import { expect } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import type { DecisionEntry, NotificationClaim, OutboxSink, Store } from '../../src/store/types.ts';
import { freshSerial, issuedEntry, START_MS } from './store-fixtures.ts';

export const OUTBOX_SINKS: OutboxSink[] = [
  { name: 'slack', kinds: ['pending', 'issued'] },
  { name: 'siem', kinds: ['pending', 'approved', 'denied', 'expired', 'issued'] },
];

const iso = (ms: number): string => new Date(ms).toISOString();

export function claimAt(ms: number, limit = 100): NotificationClaim {
  return { nowIso: iso(ms), claimUntilIso: iso(ms + 60_000), limit, pruneSentBeforeIso: iso(ms - 86_400_000) };
}

export function pendingEntry(requestId: string): DecisionEntry {
  return {
    request: {
      id: requestId,
      kind: 'ssh-user',
      requester: 'alice@example.com',
      role: 'oncall-payments',
      state: 'pending',
      body: { principals: ['payments'], ttlSeconds: 1800, reason: 'INC-42' },
      decision: { outcome: 'pending', approval: { approvals: 1, approverGroups: ['payments-leads'] } },
      createdAt: iso(START_MS),
      expiresAt: iso(START_MS + 900_000),
    },
    event: { type: 'request.pending', actor: 'alice@example.com', requestId, data: { role: 'oncall-payments', reason: 'INC-42' } },
  };
}

/** An issuance on approvals: its audit record names who approved (approvedBy). */
export function approvedIssuance(requestId: string, serial = freshSerial()): DecisionEntry {
  const entry = issuedEntry(requestId, serial);
  return { ...entry, event: { ...entry.event, data: { ...entry.event.data, approvedBy: ['bob@example.com'] } } };
}

export async function checkOutbox(store: Store): Promise<void> {
  // A pending request: one row per sink that wants `pending`, announcing exactly that record.
  const pending = await store.recordDecision(pendingEntry('req_outbox_pending'));
  // An automatic issuance is announced to nobody; an issuance on approvals to both sinks.
  await store.recordDecision(issuedEntry('req_outbox_auto'));
  const serial = freshSerial();
  const issued = await store.recordDecision(approvedIssuance('req_outbox_issued', serial));
  // A write that fails (the serial is taken) rolls back its savepoint: no row for a record never committed.
  const failed = await store.recordDecision(approvedIssuance('req_outbox_failed', serial)).catch((error: unknown) => error);
  expect(isJitcaError(failed, ErrorCodes.STORE_CONFLICT)).toBe(true);
  // A partial approval goes to the sink that wants `approved` only.
  const approved = await store.recordDecision({
    ...pendingEntry('req_outbox_pending'),
    approval: { approver: 'bob@example.com', reason: 'looks right' },
    event: { type: 'request.approved', actor: 'bob@example.com', requestId: 'req_outbox_pending', data: { approvers: ['bob@example.com'], required: 2 } },
  });

  expect(await store.notificationBacklog()).toEqual({ pending: 5, dead: 0, oldestPendingAt: iso(START_MS) });
  const claimed = await store.claimNotifications(claimAt(START_MS));
  expect(claimed.map((row) => [row.id, row.sink, row.kind, row.attempt, row.record.seq]).sort()).toEqual(
    [
      [`${pending.seq}:siem`, 'siem', 'pending', 1, pending.seq],
      [`${pending.seq}:slack`, 'slack', 'pending', 1, pending.seq],
      [`${issued.seq}:siem`, 'siem', 'issued', 1, issued.seq],
      [`${issued.seq}:slack`, 'slack', 'issued', 1, issued.seq],
      [`${approved.seq}:siem`, 'siem', 'approved', 1, approved.seq],
    ].sort(),
  );
  expect(claimed.find((row) => row.record.seq === pending.seq)?.record).toEqual(pending);
  // Claimed rows are not taken again before their claim runs out.
  expect(await store.claimNotifications(claimAt(START_MS + 1000))).toEqual([]);

  const byId = new Map(claimed.map((row) => [row.id, row]));
  const row = (id: string) => byId.get(id)!;
  // Sent: never claimed again. A settlement naming another attempt changes nothing.
  expect(await store.settleNotification({ id: `${pending.seq}:slack`, attempt: 2, outcome: 'sent', atIso: iso(START_MS) })).toBe(false);
  expect(await store.settleNotification({ id: `${pending.seq}:slack`, attempt: 1, outcome: 'sent', atIso: iso(START_MS) })).toBe(true);
  expect(await store.settleNotification({ id: `${pending.seq}:slack`, attempt: 1, outcome: 'sent', atIso: iso(START_MS) })).toBe(false);
  // Retry: due again at its next attempt, not before, with the attempt raised.
  const retryAt = START_MS + 5000;
  expect(await store.settleNotification({ id: `${pending.seq}:siem`, attempt: 1, outcome: 'retry', nextAttemptIso: iso(retryAt), error: 'answered 500' })).toBe(true);
  // Dead: with its audit record, in one transaction; a second try at it conflicts and writes nothing.
  const dead = await store.recordNotificationDead({
    id: `${issued.seq}:siem`,
    attempt: row(`${issued.seq}:siem`).attempt,
    error: 'answered 500',
    event: { type: 'notification.dead', actor: 'system', requestId: 'req_outbox_issued', data: { notification: `${issued.seq}:siem` } },
  });
  expect(dead.type).toBe('notification.dead');
  const again = await store
    .recordNotificationDead({ id: `${issued.seq}:siem`, attempt: 1, error: 'x', event: { type: 'notification.dead', actor: 'system', data: {} } })
    .catch((error: unknown) => error);
  expect(isJitcaError(again, ErrorCodes.STORE_CONFLICT)).toBe(true);
  expect((await store.listAudit({ afterSeq: dead.seq })).length).toBe(0);

  expect(await store.claimNotifications(claimAt(retryAt - 1))).toEqual([]);
  const retried = await store.claimNotifications(claimAt(retryAt));
  expect(retried.map((claimedRow) => [claimedRow.id, claimedRow.attempt])).toEqual([[`${pending.seq}:siem`, 2]]);
  expect(await store.notificationBacklog()).toMatchObject({ pending: 3, dead: 1 });

  // Sent rows are pruned once older than the retention the claim names.
  await store.claimNotifications({ ...claimAt(retryAt), pruneSentBeforeIso: iso(START_MS + 1) });
  expect(await store.settleNotification({ id: `${pending.seq}:slack`, attempt: 1, outcome: 'sent', atIso: iso(START_MS) })).toBe(false);

  // Bad input is the caller's, not a store fault.
  const bad = await store.claimNotifications({ ...claimAt(START_MS), limit: 0 }).catch((error: unknown) => error);
  expect(isJitcaError(bad, ErrorCodes.REQUEST_INVALID)).toBe(true);
}
