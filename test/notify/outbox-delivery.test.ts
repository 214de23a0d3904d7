/**
 * The outbox's sender against a real HTTP receiver on loopback (test/support/webhook-receiver.ts)
 * and the real SQLite store: the Slack message and the signed JSON as a receiver sees them, the
 * signature checked here with node:crypto, retries with backoff, giving up with an audit record,
 * redirects refused, and the HMAC secret in no log line.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { createDeliveryCounters, createOutboxDelivery, countsOf, type DeliveryCounters } from '../../src/notify/outbox-delivery.ts';
import { loadWebhookSinks, outboxSinksOf, type NotificationsConfig } from '../../src/notify/webhook-sinks.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { Store } from '../../src/store/types.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { pendingEntry } from '../store/outbox-cases.ts';
import { makeTempDir, removeDir, tempStorePerTest } from '../store/store-fixtures.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const SECRET = 'whsec-7f3a9c1e5b2d8f4a6c0e9b1d3f5a7c9e';
const openTemp = tempStorePerTest();
const policy = parsePolicy(JSON.stringify(testPolicy));
let receiver: WebhookReceiver;
let dir: string;
let config: NotificationsConfig;
const logged: Array<{ fields: Record<string, unknown>; message: string }> = [];
const log = {
  info: (fields: Record<string, unknown>, message: string) => logged.push({ fields, message }),
  warn: (fields: Record<string, unknown>, message: string) => logged.push({ fields, message }),
};

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  dir = makeTempDir();
  const secretFile = path.join(dir, 'siem.secret');
  fs.writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  config = {
    consoleUrl: 'https://jitca.example/console/',
    webhooks: [
      { name: 'slack', format: 'slack', url: `${receiver.base}/slack`, events: ['pending', 'approved', 'issued'] },
      { name: 'siem', format: 'json', url: `${receiver.base}/siem`, secretFile, events: ['pending', 'approved', 'denied', 'expired', 'issued'] },
    ],
    expiringNoticeSeconds: 600,
    timeoutMs: 2000,
    maxResponseBytes: 4096,
    maxAttempts: 3,
    backoffBaseMs: 1000,
    backoffCapMs: 60_000,
    pollIntervalMs: 1000,
    sentRetentionDays: 7,
  };
});
afterAll(async () => {
  await receiver?.close();
  removeDir(dir);
});

async function setUp(): Promise<{ store: Store; clock: { now(): number; advance(ms: number): void }; counters: DeliveryCounters; deliverDue: () => Promise<number> }> {
  receiver.received.length = 0;
  receiver.answers.length = 0;
  const { store, clock } = await openTemp({ outboxSinks: outboxSinksOf(config) });
  const counters = createDeliveryCounters();
  const { webhooks: _webhooks, ...settings } = config;
  const delivery = createOutboxDelivery({ store, sinks: loadWebhookSinks(config), settings, policy: () => policy, clock, log, counters, random: () => 0 });
  return { store, clock, counters, deliverDue: () => delivery.deliverDue() };
}

function counts(counters: DeliveryCounters): Record<string, number> {
  return Object.fromEntries(countsOf(counters).map(({ sink, outcome, count }) => [`${sink} ${outcome}`, count]));
}

describe('notification delivery', () => {
  it('posts a Slack Block Kit message and a signed JSON event the receiver can verify, each with its idempotency key', async () => {
    const { store, deliverDue, counters } = await setUp();
    const entry = pendingEntry('req_deliver');
    entry.request.body = { ...entry.request.body, reason: 'INC-42 <!channel> *now*' };
    const record = await store.recordDecision(entry);

    expect(await deliverDue()).toBe(2);
    expect(receiver.received.map((request) => request.path).sort()).toEqual(['/siem', '/slack']);

    const slack = receiver.received.find((request) => request.path === '/slack')!;
    expect(slack.headers['idempotency-key']).toBe(`${record.seq}:slack`);
    expect(slack.headers['content-type']).toBe('application/json');
    const message = JSON.parse(slack.body) as { text: string; blocks: Array<Record<string, any>> };
    expect(message.text).toBe('Approval needed: alice@example.com for oncall-payments');
    expect(message.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Approval needed: alice@example.com for oncall-payments' } });
    const fields = (message.blocks[1]!['fields'] as Array<{ text: string }>).map((field) => field.text);
    expect(fields).toEqual(
      expect.arrayContaining(['*Requester*\nalice@example.com', '*Role*\noncall-payments', '*Principals*\npayments', '*Lifetime*\n30 min', '*Approvals*\n0 of 1']),
    );
    // The requester's reason cannot mention the channel or format the message.
    expect(message.blocks[2]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: '*Reason*\nINC-42 &lt;!channel&gt; *now*' } });
    expect(message.blocks.at(-1)).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'Approve with `jitca approve req_deliver --reason "…"` or <https://jitca.example/console|open it in the console>' }],
    });
    // No button: approving takes the approver's own authentication.
    expect(message.blocks.some((block) => block['type'] === 'actions')).toBe(false);

    const siem = receiver.received.find((request) => request.path === '/siem')!;
    expect(siem.headers['idempotency-key']).toBe(`${record.seq}:siem`);
    const signature = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(siem.headers['jitca-signature']));
    expect(signature).not.toBeNull();
    const [, timestamp, mac] = signature!;
    const expected = createHmac('sha256', SECRET).update(`${timestamp}.${siem.body}`).digest();
    expect(timingSafeEqual(Buffer.from(mac!, 'hex'), expected)).toBe(true);
    // A body moved under another timestamp no longer verifies.
    expect(timingSafeEqual(Buffer.from(mac!, 'hex'), createHmac('sha256', SECRET).update(`${Number(timestamp) + 1}.${siem.body}`).digest())).toBe(false);
    expect(JSON.parse(siem.body)).toMatchObject({
      id: `${record.seq}:siem`,
      event: 'pending',
      auditSeq: record.seq,
      requestId: 'req_deliver',
      consoleUrl: 'https://jitca.example/console',
      request: { requester: 'alice@example.com', role: 'oncall-payments', reason: 'INC-42 <!channel> *now*', required: 1, approvals: [] },
    });

    expect(counts(counters)).toEqual({ 'siem sent': 1, 'slack sent': 1 });
    expect(await store.notificationBacklog()).toEqual({ pending: 0, dead: 0 });
    expect(await deliverDue()).toBe(0);
  });

  it('tries a failed delivery again after its backoff, with the same idempotency key, and marks it sent on success', async () => {
    const { store, clock, deliverDue, counters } = await setUp();
    const record = await store.recordDecision(pendingEntry('req_retry'));
    receiver.answers.push(500); // the first POST (siem's id sorts first)
    expect(await deliverDue()).toBe(2);
    expect(await store.notificationBacklog()).toMatchObject({ pending: 1 });
    // Not before its backoff (base × 2^0 = 1 s here)...
    clock.advance(999);
    expect(await deliverDue()).toBe(0);
    clock.advance(1);
    expect(await deliverDue()).toBe(1);
    const siem = receiver.received.filter((request) => request.path === '/siem');
    expect(siem.map((request) => request.headers['idempotency-key'])).toEqual([`${record.seq}:siem`, `${record.seq}:siem`]);
    expect(counts(counters)).toEqual({ 'siem failed': 1, 'siem sent': 1, 'slack sent': 1 });
    expect(await store.notificationBacklog()).toEqual({ pending: 0, dead: 0 });
    expect(logged.some((line) => line.message === 'notification delivery failed' && line.fields['error'] === 'answered 500')).toBe(true);
  });

  it('gives a notification up after maxAttempts, with a notification.dead audit record, and backs off exponentially in between', async () => {
    const { store, clock, deliverDue, counters } = await setUp();
    const record = await store.recordDecision({ ...pendingEntry('req_dead'), event: { type: 'request.denied', actor: 'bob@example.com', requestId: 'req_dead', data: {} } });
    receiver.answers.push(503, 503, 503);
    expect(await deliverDue()).toBe(1); // only siem wants `denied`
    clock.advance(1000);
    expect(await deliverDue()).toBe(1);
    clock.advance(1999); // the second backoff is 2 s
    expect(await deliverDue()).toBe(0);
    clock.advance(1);
    expect(await deliverDue()).toBe(1);
    expect(receiver.received).toHaveLength(3);
    const audit = await store.listAudit({ afterSeq: record.seq });
    expect(audit).toMatchObject([
      { type: 'notification.dead', actor: 'system', requestId: 'req_dead', data: { notification: `${record.seq}:siem`, sink: 'siem', kind: 'denied', attempts: 3, error: 'answered 503' } },
    ]);
    expect(await store.notificationBacklog()).toEqual({ pending: 0, dead: 1 });
    expect(counts(counters)).toEqual({ 'siem failed': 2, 'siem dead': 1 });
    clock.advance(3_600_000);
    expect(await deliverDue()).toBe(0);
  });

  it('follows no redirect: a 3xx is a failed delivery and the Location is never asked', async () => {
    const { store, deliverDue } = await setUp();
    await store.recordDecision(pendingEntry('req_redirect'));
    receiver.answers.push(302, 301);
    expect(await deliverDue()).toBe(2);
    expect(receiver.received.map((request) => request.path).sort()).toEqual(['/siem', '/slack']);
    expect(await store.notificationBacklog()).toMatchObject({ pending: 2 });
    expect(logged.some((line) => line.fields['error'] === 'answered 302: redirects are not followed')).toBe(true);
  });

  it('refuses, at load, webhooks that are not https (except loopback), carry credentials, or have a weak or readable secret', () => {
    const base = config.webhooks[1]!;
    const refusal = (webhook: Partial<NotificationsConfig['webhooks'][number]>): string => {
      try {
        loadWebhookSinks({ ...config, webhooks: [{ ...base, ...webhook }] });
        return 'loaded';
      } catch (error) {
        return `${(error as { code: string }).code} ${(error as Error).message}`;
      }
    };
    expect(refusal({ url: 'http://hooks.example.com/x' })).toMatch(/^ERR_CONFIG_INVALID .*must be https/);
    expect(refusal({ url: 'https://user:pw@hooks.example.com/x' })).toMatch(/must not carry credentials/);
    expect(refusal({ url: 'http://[::1]:9/x' })).toBe('loaded');
    expect(refusal({ url: 'https://hooks.example.com/x' })).toBe('loaded');
    expect(refusal({ secretFile: undefined })).toMatch(/name its secretFile/);
    const readable = path.join(dir, 'readable.secret');
    fs.writeFileSync(readable, SECRET, { mode: 0o644 });
    fs.chmodSync(readable, 0o644);
    expect(refusal({ secretFile: readable })).toMatch(/^ERR_CONFIG_INVALID .*mode 0644/);
    const short = path.join(dir, 'short.secret');
    fs.writeFileSync(short, 'too-short', { mode: 0o600 });
    expect(refusal({ secretFile: short })).toMatch(/at least 32 bytes/);
    expect(() => loadWebhookSinks({ ...config, webhooks: [base, base] })).toThrow(/used twice/);
    // No refusal quotes the secret.
    expect(refusal({ secretFile: readable })).not.toContain(SECRET);
  });

  it('reads a webhook URL from its 0600 urlFile (a Slack URL is a credential), and refuses both, neither or a readable file', () => {
    const slack = config.webhooks[0]!;
    const secretUrl = `${receiver.base}/slack/T000/B000/s3cr3t-path`;
    const urlFile = path.join(dir, 'slack.url');
    fs.writeFileSync(urlFile, `${secretUrl}\n`, { mode: 0o600 });
    const { url: _url, ...withoutUrl } = slack;
    expect(loadWebhookSinks({ ...config, webhooks: [{ ...withoutUrl, urlFile }] })[0]!.url.href).toBe(secretUrl);
    const refusal = (webhook: Partial<NotificationsConfig['webhooks'][number]>): string => {
      try {
        loadWebhookSinks({ ...config, webhooks: [{ ...withoutUrl, ...webhook }] });
        return 'loaded';
      } catch (error) {
        return `${(error as { code: string }).code} ${(error as Error).message}`;
      }
    };
    expect(refusal({})).toMatch(/^ERR_CONFIG_INVALID .*exactly one of url and urlFile/);
    expect(refusal({ url: slack.url, urlFile })).toMatch(/exactly one of url and urlFile/);
    const readable = path.join(dir, 'readable.url');
    fs.writeFileSync(readable, secretUrl, { mode: 0o644 });
    fs.chmodSync(readable, 0o644);
    expect(refusal({ urlFile: readable })).toMatch(/^ERR_CONFIG_INVALID .*mode 0644/);
    expect(refusal({ urlFile: path.join(dir, 'missing.url') })).toMatch(/cannot read urlFile/);
    const plain = path.join(dir, 'plain.url');
    fs.writeFileSync(plain, 'http://hooks.example.com/T000/s3cr3t-path', { mode: 0o600 });
    // Refused like a url in the config, and the refusal does not quote the file's URL.
    expect(refusal({ urlFile: plain })).toMatch(/must be https/);
    expect(refusal({ urlFile: plain })).not.toContain('s3cr3t');
  });

  it('builds each message under the policy in force when it is sent: a reload since the request applies', async () => {
    receiver.received.length = 0;
    receiver.answers.length = 0;
    const { store, clock } = await openTemp({ outboxSinks: outboxSinksOf(config) });
    let inForce = policy;
    const { webhooks: _webhooks, ...settings } = config;
    const delivery = createOutboxDelivery({ store, sinks: loadWebhookSinks(config), settings, policy: () => inForce, clock, log, counters: createDeliveryCounters(), random: () => 0 });
    await store.recordDecision(pendingEntry('req_after_reload'));
    // Reloaded before the sender's next poll: the role now has working hours, and the request (a Saturday noon) was outside them.
    const hours = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00', timeZone: 'UTC', onCallGroups: ['oncall-payments'] };
    inForce = parsePolicy(JSON.stringify({ ...testPolicy, roles: testPolicy.roles.map((role) => (role.name === 'oncall-payments' ? { ...role, workingHours: hours } : role)) }));
    expect(await delivery.deliverDue()).toBe(2);
    const slack = receiver.received.find((request) => request.path === '/slack')!;
    expect(slack.body).toContain("asked outside the role's working hours");
  });

  it('never puts the HMAC secret into a log line (every test above logged through this logger)', () => {
    expect(logged.length).toBeGreaterThan(0);
    expect(JSON.stringify(logged)).not.toContain(SECRET);
    expect(JSON.stringify(logged)).not.toContain(Buffer.from(SECRET).toString('hex'));
    expect(ErrorCodes.LEADER_FENCED).toBe('ERR_LEADER_FENCED');
  });
});
