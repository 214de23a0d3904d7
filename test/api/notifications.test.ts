/**
 * Notifications of the approval workflow end to end: requests through the API (the store on its
 * own thread, as serve runs it) leave outbox rows for what they commit, and the sender delivers
 * them as Slack messages to a real receiver on loopback. Automatic issuance is announced to nobody.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, systemClock } from '../../src/clock.ts';
import { announceExpiringRequests } from '../../src/issuance/expiring-requests.ts';
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
      notifications: {
        consoleUrl: 'https://jitca.example/console',
        webhooks: [
          { name: 'approvers', format: 'slack', url: `${receiver.base}/approvers` },
          // Routed by who may approve: break-glass needs sre-leads, so only the first of these gets it.
          { name: 'sre-leads', format: 'slack', url: `${receiver.base}/sre-leads`, approverGroups: ['sre-leads'] },
          { name: 'db-leads', format: 'slack', url: `${receiver.base}/db-leads`, approverGroups: ['db-leads'] },
        ],
      },
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
    expect(await store.notificationBacklog()).toMatchObject({ pending: 10, dead: 0 });
    const { webhooks: _webhooks, ...settings } = api.ca.config.notifications;
    const log = { info: () => undefined, warn: () => undefined };
    const delivery = createOutboxDelivery({ store, sinks: loadWebhookSinks(api.ca.config.notifications), settings, policy: () => api.ca.runtime.policyInForce.current().policy, clock: systemClock, log, counters: createDeliveryCounters() });
    expect(await delivery.deliverDue()).toBe(10);

    const titlesAt = (where: string) => receiver.received.filter((request) => request.path.endsWith(where)).map((request) => (JSON.parse(request.body) as { text: string }).text).sort();
    // The approvers' channel gets every event of the request, the issuance and the denial included
    // (their rows keep who could approve); a channel of other approvers gets none.
    expect(titlesAt('/sre-leads')).toEqual(titlesAt('/approvers'));
    expect(titlesAt('/db-leads')).toEqual([]);
    const messages = receiver.received.filter((request) => request.path.endsWith('/approvers')).map((request) => JSON.parse(request.body) as { text: string; blocks: Array<Record<string, any>> });
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
    expect(rows.filter((row) => row.sink === 'approvers').map((row) => [row.kind, row.record.requestId])).toEqual([
      ['pending', id],
      ['expired', id],
    ]);
  });

  it('announces once a pending request near the end of its window, and an approval still lands after it', async () => {
    const store = api.ca.runtime.store;
    const breakGlass = { publicKey: key.publicKey, role: 'break-glass', scope: { cluster: 'prod', namespace: 'payments' }, reason: 'prod down' };
    const id = (await call(api.tokens.dave, '/v1/ssh/certificates', breakGlass)).json().requestId as string;
    const context = { ...api.ca.runtime.sshIssuance, clock };
    // 15 minutes to approve, a 5-minute notice: not yet at 9 minutes in, announced at 11.
    clock.advance(9 * 60_000);
    expect(await announceExpiringRequests(context, 300)).toBe(0);
    clock.advance(2 * 60_000);
    expect(await announceExpiringRequests(context, 300)).toBe(1);
    expect(await announceExpiringRequests(context, 300)).toBe(0);
    expect((await call(api.tokens.bob, `/v1/requests/${id}/approve`, { reason: 'checked' })).statusCode).toBe(200);
    expect((await call(api.tokens.carol, `/v1/requests/${id}/approve`, { reason: 'ok' })).statusCode).toBe(201);

    const rows = await store.claimNotifications({
      nowIso: new Date(Date.now() + 3_600_000).toISOString(),
      claimUntilIso: new Date(Date.now() + 7_200_000).toISOString(),
      limit: 50,
      pruneSentBeforeIso: new Date(0).toISOString(),
    });
    expect(rows.filter((row) => row.sink === 'sre-leads' && row.record.requestId === id).map((row) => row.kind)).toEqual(['pending', 'expiring', 'approved', 'issued']);
    const expiring = rows.find((row) => row.kind === 'expiring')!;
    expect(expiring.record).toMatchObject({ type: 'request.expiring', actor: 'system', requestId: id });
    expect(rows.some((row) => row.sink === 'db-leads')).toBe(false);
  });

  it('announces a short window at its half, not with its pending notice', async () => {
    // The 15-minute window with a 30-minute notice: nothing at 7 minutes, announced at 8.
    const breakGlass = { publicKey: key.publicKey, role: 'break-glass', scope: { cluster: 'prod', namespace: 'payments' }, reason: 'prod down' };
    const id = (await call(api.tokens.dave, '/v1/ssh/certificates', breakGlass)).json().requestId as string;
    const context = { ...api.ca.runtime.sshIssuance, clock };
    expect(await announceExpiringRequests(context, 1800)).toBe(0);
    clock.advance(7 * 60_000);
    expect(await announceExpiringRequests(context, 1800)).toBe(0);
    clock.advance(60_000 + 1);
    expect(await announceExpiringRequests(context, 1800)).toBe(1);
    expect((await call(api.tokens.dave, `/v1/requests/${id}/deny`, { reason: 'withdrawn' })).statusCode).toBe(204);
    // Withdrawn: no longer pending, so a later sweep announces nothing; and 0 turns the notice off.
    const another = (await call(api.tokens.dave, '/v1/ssh/certificates', breakGlass)).json().requestId as string;
    clock.advance(8 * 60_000 + 1);
    expect(await announceExpiringRequests(context, 0)).toBe(0);
    expect(await announceExpiringRequests(context, 1800)).toBe(1);
    const rows = await api.ca.runtime.store.claimNotifications({
      nowIso: new Date(Date.now() + 7_200_000).toISOString(),
      claimUntilIso: new Date(Date.now() + 9_000_000).toISOString(),
      limit: 100,
      pruneSentBeforeIso: new Date(0).toISOString(),
    });
    const expiring = rows.filter((row) => row.sink === 'approvers' && row.kind === 'expiring').map((row) => row.record.requestId);
    expect(expiring).toContain(another);
    expect(expiring.filter((requestId) => requestId === id)).toHaveLength(1);
  });
});
