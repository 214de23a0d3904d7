import { requestView, type RequestViewReply } from '../api/request-view.ts';
import type { Clock } from '../clock.ts';
import { ErrorCodes, isJitcaError } from '../errors.ts';
import type { Identity, Policy } from '../policy/types.ts';
import type { ClaimedNotification, LeaderFence, Store } from '../store/types.ts';
import { retryDelayMs } from './delivery-backoff.ts';
import { jsonNotification, slackNotification } from './notification-message.ts';
import { postWebhook } from './webhook-post.ts';
import type { WebhookSink } from './webhook-sinks.ts';
import { SIGNATURE_HEADER, webhookSignature } from './webhook-signature.ts';

export interface DeliverySettings {
  timeoutMs: number;
  maxResponseBytes: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  pollIntervalMs: number;
  sentRetentionDays: number;
  consoleUrl?: string;
}

export interface DeliveryLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Attempts by sink and outcome since the process started: what /metrics reports. */
export interface DeliveryCounters {
  readonly attempts: Map<string, number>;
}

export function createDeliveryCounters(): DeliveryCounters {
  return { attempts: new Map() };
}

export type DeliveryOutcome = 'sent' | 'failed' | 'dead';

export function countsOf(counters: DeliveryCounters): Array<{ sink: string; outcome: DeliveryOutcome; count: number }> {
  return [...counters.attempts].map(([key, count]) => {
    const [sink = '', outcome] = key.split('\u0000');
    return { sink, outcome: outcome as DeliveryOutcome, count };
  });
}

export interface OutboxDeliveryOptions {
  store: Pick<Store, 'claimNotifications' | 'settleNotification' | 'recordNotificationDead' | 'getRequest' | 'listApprovals'>;
  sinks: readonly WebhookSink[];
  settings: DeliverySettings;
  /** The policy in force, asked once per message (a reload applies to the next): a request's view derives from it (working hours). */
  policy: () => Policy;
  clock: Clock;
  log: DeliveryLog;
  counters: DeliveryCounters;
  /** The lease term the job runs under (PostgreSQL); every write is fenced by it. */
  leader?: LeaderFence;
  random?: () => number;
}

export interface OutboxDelivery {
  /** Delivers the rows due now, one claim at a time; resolves with how many were attempted. */
  deliverDue(): Promise<number>;
  /** Polls every pollIntervalMs; returns how to stop (waiting for the delivery in flight). */
  start(): () => Promise<void>;
}

/** Rows taken per claim: each may take timeoutMs, and the claim lasts until all could have. */
const CLAIM_LIMIT = 16;
const MAX_ERROR_TEXT = 512;
const DAY_MS = 86_400_000;
/** Whom the request views are built for: nobody's groups, so nothing of a viewer's rights shows. */
const NOTIFIER: Identity = { subject: 'system:notify', groups: [], via: 'local-cli' };

/**
 * The outbox's sender, a singleton job (src/ha): it claims due rows, posts each to its webhook and
 * records the outcome. At least once: a row is marked sent only after a 2xx, so a crash between
 * the POST and the mark sends it again (receivers deduplicate on the `idempotency-key` header,
 * the row id). A failure is tried again after an exponential, capped backoff; after maxAttempts
 * the row is given up (`dead`) with a `notification.dead` audit record in one transaction. Under a
 * leader term, every claim and mark is fenced by it: a deposed leader may still finish a POST it
 * started, but cannot mark it sent, so the new leader sends it too (at least once, never lost).
 */
export function createOutboxDelivery(options: OutboxDeliveryOptions): OutboxDelivery {
  const { store, settings, clock, log, leader } = options;
  const sinks = new Map(options.sinks.map((sink) => [sink.name, sink]));
  const count = (sink: string, outcome: DeliveryOutcome): void => {
    const key = `${sink}\u0000${outcome}`;
    options.counters.attempts.set(key, (options.counters.attempts.get(key) ?? 0) + 1);
  };

  const deliverOne = async (row: ClaimedNotification): Promise<void> => {
    const sink = sinks.get(row.sink);
    const failure = sink === undefined ? `sink ${row.sink} is no longer configured` : await post(sink, row);
    const now = clock.now();
    if (failure === undefined) {
      await store.settleNotification({ id: row.id, attempt: row.attempt, outcome: 'sent', atIso: iso(now), leader });
      count(row.sink, 'sent');
      return;
    }
    const error = failure.slice(0, MAX_ERROR_TEXT);
    if (sink === undefined || row.attempt >= settings.maxAttempts) {
      await store.recordNotificationDead({
        id: row.id,
        attempt: row.attempt,
        error,
        leader,
        event: {
          type: 'notification.dead',
          actor: 'system',
          ...(row.record.requestId === undefined ? {} : { requestId: row.record.requestId }),
          data: { notification: row.id, sink: row.sink, kind: row.kind, auditSeq: row.record.seq, attempts: row.attempt, error },
        },
      });
      count(row.sink, 'dead');
      log.warn({ notification: row.id, sink: row.sink, attempts: row.attempt, error }, 'notification given up');
      return;
    }
    const delay = retryDelayMs(row.attempt, { baseMs: settings.backoffBaseMs, capMs: settings.backoffCapMs }, options.random);
    await store.settleNotification({ id: row.id, attempt: row.attempt, outcome: 'retry', nextAttemptIso: iso(now + delay), error, leader });
    count(row.sink, 'failed');
    log.warn({ notification: row.id, sink: row.sink, attempt: row.attempt, retryInMs: delay, error }, 'notification delivery failed');
  };

  const post = async (sink: WebhookSink, row: ClaimedNotification): Promise<string | undefined> => {
    const facts = { id: row.id, kind: row.kind, record: row.record, request: await requestOf(row), consoleUrl: settings.consoleUrl };
    const body = JSON.stringify(sink.format === 'slack' ? slackNotification(facts) : jsonNotification(facts));
    const headers: Record<string, string> = { 'idempotency-key': row.id };
    if (sink.secret !== undefined) headers[SIGNATURE_HEADER] = webhookSignature(sink.secret, Math.floor(clock.now() / 1000), body);
    const result = await postWebhook(sink.url, body, headers, settings);
    return result.ok ? undefined : result.error;
  };

  const requestOf = async (row: ClaimedNotification): Promise<RequestViewReply | undefined> => {
    const requestId = row.record.requestId;
    if (requestId === undefined) return undefined;
    const stored = await store.getRequest(requestId);
    if (stored === undefined) return undefined;
    // callerMay is what one viewer may do; a message goes to many, so it says nothing of the kind.
    const { callerMay: _callerMay, ...view } = requestView(stored, await store.listApprovals(requestId), { policy: options.policy(), identity: NOTIFIER, now: new Date(clock.now()) });
    return view;
  };

  const deliverDue = async (): Promise<number> => {
    let attempted = 0;
    // Bounded: a claim moves each row's next attempt past now, so no row is taken twice in one run.
    for (let round = 0; round < 64; round++) {
      const now = clock.now();
      const claimed = await store.claimNotifications({
        nowIso: iso(now),
        claimUntilIso: iso(now + (CLAIM_LIMIT + 1) * settings.timeoutMs),
        limit: CLAIM_LIMIT,
        pruneSentBeforeIso: iso(now - settings.sentRetentionDays * DAY_MS),
        leader,
      });
      for (const row of claimed) {
        await deliverOne(row);
        attempted += 1;
      }
      if (claimed.length < CLAIM_LIMIT) break;
    }
    return attempted;
  };

  return {
    deliverDue,
    start() {
      let timer: NodeJS.Timeout | undefined;
      let stopped = false;
      let inFlight: Promise<void> = Promise.resolve();
      const tick = (): void => {
        inFlight = deliverDue()
          .then(() => undefined)
          .catch((error: unknown) => {
            // A deposed leader's job is being stopped; anything else is tried again next tick.
            if (isJitcaError(error, ErrorCodes.LEADER_FENCED)) log.info({ term: leader?.term }, 'notification delivery: no longer leading');
            else log.warn({ err: error }, 'notification delivery failed; retrying at the next poll');
          })
          .finally(() => {
            if (stopped) return;
            timer = setTimeout(tick, settings.pollIntervalMs);
            timer.unref();
          });
      };
      tick();
      return async () => {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
        await inFlight;
      };
    },
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
