/**
 * Notifications of the approval workflow end to end: requests through the API (the store on its
 * own thread, as serve runs it) leave outbox rows for what they commit, and the sender delivers
 * them as Slack messages to a real receiver on loopback. Automatic issuance is announced to nobody.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, systemClock } from '../../src/clock.ts';
import { sweepExpiredRequests } from '../../src/issuance/request-lifecycle.ts';
import { createDeliveryCounters, createOutboxDelivery } from '../../src/notify/outbox-delivery.ts';
import { loadWebhookSinks } from '../../src/notify/webhook-sinks.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

describe('notifications of requests made through the API', () => {
  let api: ApiFixture;
  let key: TempSshKey;
  let receiver: WebhookReceiver;
  const clock = fixedClock(Date.now());

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    api = await createApiFixture({
      issuanceClock: clock,
      notifications: { consoleUrl: 'https://jitca.example/console', webhooks: [{ name: 'approvers', format: 'slack', url: `${receiver.base}/approvers` }] },
    });
    key = createTempSshKey('jitca-notify-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
    await receiver?.close();
  });

  const call = (token: string, url: string, payload: Record<string, unknown>) =>
    api.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload });

  it('announces pending, approved, issued on approval and denied, each once, and nothing for an automatic issuance', async () => {
    expect((await call(api.tokens.alice, '/v1/ssh/certificates', { publicKey: key.publicKey, role: 'oncall-payments', reason: 'INC-1' })).statusCode).toBe(201);
    const breakGlass = { publicKey: key.publicKey, role: 'break-glass', scope: { cluster: 'prod', namespace: 'payments' }, reason: 'prod down' };
    const approved = (await call(api.tokens.dave, '/v1/ssh/certificates', breakGlass)).json().requestId as string;
    expect((await call(api.tokens.bob, `/v1/requests/${approved}/approve`, { reason: 'checked' })).statusCode).toBe(200);
    expect((await call(api.tokens.carol, `/v1/requests/${approved}/approve`, { reason: 'ok' })).statusCode).toBe(201);
    const denied = (await call(api.tokens.dave, '/v1/ssh/certificates', breakGlass)).json().requestId as string;
    expect((await call(api.tokens.bob, `/v1/requests/${denied}/deny`, { reason: 'not an incident' })).statusCode).toBe(204);

    const store = api.ca.runtime.store;
    expect(await store.notificationBacklog()).toMatchObject({ pending: 5, dead: 0 });
    const { webhooks: _webhooks, ...settings } = api.ca.config.notifications;
    const log = { info: () => undefined, warn: () => undefined };
    const delivery = createOutboxDelivery({ store, sinks: loadWebhookSinks(api.ca.config.notifications), settings, policy: () => api.ca.runtime.policyInForce.current().policy, clock: systemClock, log, counters: createDeliveryCounters() });
    expect(await delivery.deliverDue()).toBe(5);

    const messages = receiver.received.map((request) => JSON.parse(request.body) as { text: string; blocks: Array<Record<string, any>> });
    expect(messages.map((message) => message.text).sort()).toEqual(
      [
        'Approval needed: dave for break-glass',
        'Approval needed: dave for break-glass',
        'Approved (more approvals needed): dave for break-glass',
        'Certificate issued on approval: dave for break-glass',
        'Request denied: dave for break-glass',
      ].sort(),
    );
    const fieldsOf = (text: string) => (messages.find((message) => message.text === text)!.blocks[1]!['fields'] as Array<{ text: string }>).map((field) => field.text);
    expect(fieldsOf('Certificate issued on approval: dave for break-glass')).toEqual(expect.arrayContaining(['*Approvals*\nbob, carol', '*Principals*\nroot-debug']));
    expect(fieldsOf('Request denied: dave for break-glass')).toContain('*By*\nbob');
    const deniedMessage = messages.find((message) => message.text.startsWith('Request denied'))!;
    expect(deniedMessage.blocks).toContainEqual({ type: 'section', text: { type: 'mrkdwn', text: '*Denied because*\nnot an incident' } });
    expect(await store.notificationBacklog()).toEqual({ pending: 0, dead: 0 });
    expect(await delivery.deliverDue()).toBe(0);
  });

  it('announces a request that expired unapproved (the sweeper, a singleton job, records it)', async () => {
    const breakGlass = { publicKey: key.publicKey, role: 'break-glass', scope: { cluster: 'prod', namespace: 'payments' }, reason: 'prod down' };
    const id = (await call(api.tokens.dave, '/v1/ssh/certificates', breakGlass)).json().requestId as string;
    clock.advance(15 * 60_000 + 1);
    expect(await sweepExpiredRequests({ ...api.ca.runtime.sshIssuance, clock })).toBe(1);
    const rows = await api.ca.runtime.store.claimNotifications({
      nowIso: new Date(Date.now() + 60_000).toISOString(),
      claimUntilIso: new Date(Date.now() + 120_000).toISOString(),
      limit: 10,
      pruneSentBeforeIso: new Date(0).toISOString(),
    });
    expect(rows.map((row) => [row.kind, row.record.requestId])).toEqual([
      ['pending', id],
      ['expired', id],
    ]);
  });
});
