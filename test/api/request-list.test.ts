/**
 * Approvers see what waits for them: GET /v1/requests (the list) and GET /v1/requests/{id} (one),
 * through the real API with tokens from the real OpenID provider in test/support.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** testPolicy plus a one-approver role that accepts the SSH gateway (break-glass does not). */
const gatewayReviewed = {
  name: 'gateway-reviewed',
  groups: ['sre'],
  principals: ['reviewed-debug'],
  maxTtlSeconds: 900,
  scope: { clusters: ['prod'], namespaces: ['*'] },
  extensions: ['permit-pty'],
  approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 1 },
  allowGateway: true,
};

describe('GET /v1/requests and /v1/requests/{id}: what requesters and approvers see', () => {
  const clock = fixedClock(Date.parse('2030-01-01T09:00:00.000Z'));
  let api: ApiFixture;
  let key: TempSshKey;

  beforeAll(async () => {
    api = await createApiFixture({ issuanceClock: clock, policy: { ...testPolicy, roles: [...testPolicy.roles, gatewayReviewed] } });
    key = createTempSshKey('jitca-request-list-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
    api.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
  const viaGateway = (engineerToken: string, url: string) =>
    api.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${api.gatewayToken}`, 'x-jitca-on-behalf-of': engineerToken } });

  async function ask(token: string, role: string, extra: Record<string, unknown> = {}): Promise<string> {
    const response = await call(token, 'POST', '/v1/ssh/certificates', { publicKey: key.publicKey, role, scope: { cluster: 'prod', namespace: 'payments' }, reason: 'prod down', ...extra });
    expect([201, 202]).toContain(response.statusCode);
    return response.json().requestId as string;
  }

  /** Every page of a list, following nextCursor; fails on a repeated id or more than `maxPages`. */
  async function everyPage(token: string, query: string, from?: string, maxPages = 50): Promise<{ ids: string[]; pages: number; requests: Array<Record<string, unknown>> }> {
    const requests: Array<Record<string, unknown>> = [];
    let cursor: string | undefined = from;
    for (let pages = 1; pages <= maxPages; pages++) {
      const response = await call(token, 'GET', `/v1/requests?${query}${cursor === undefined ? '' : `&cursor=${cursor}`}`);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json();
      requests.push(...body.requests);
      cursor = body.nextCursor;
      if (cursor === undefined) {
        const ids = requests.map((request) => request.requestId as string);
        expect(new Set(ids).size, 'no request twice').toBe(ids.length);
        return { ids, pages, requests };
      }
    }
    throw new Error(`more than ${maxPages} pages`);
  }

  it('shows requester, role, principals, scope, TTL, reason, times, each approval with its reason, and who denied and why', async () => {
    const id = await ask(api.tokens.dave, 'break-glass', { ttl: '5m', scope: { cluster: 'prod', namespace: 'checkout' }, reason: 'INC-9: payments 500s' });
    clock.advance(1000);
    expect((await call(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'paged, INC-9 confirmed' })).statusCode).toBe(200);
    const pending = await call(api.tokens.carol, 'GET', `/v1/requests/${id}`);
    expect(pending.statusCode).toBe(200);
    expect(pending.json()).toEqual({
      requestId: id,
      kind: 'ssh-user',
      state: 'pending',
      requester: 'dave',
      role: 'break-glass',
      principals: ['root-debug'],
      scope: { cluster: 'prod', namespace: 'checkout' },
      ttlSeconds: 300,
      reason: 'INC-9: payments 500s',
      createdAt: '2030-01-01T09:00:00.000Z',
      expiresAt: '2030-01-01T09:15:00.000Z',
      // Approval and decision times come from the store's clock (the system's here), not the issuance clock.
      approvals: [{ approver: 'bob', at: expect.stringMatching(ISO), reason: 'paged, INC-9 confirmed' }],
      required: 2,
      approverGroups: ['sre-leads'],
      // Carol, a second lead, may give the second approval or deny it.
      callerMay: { approve: true, deny: true },
    });
    // The list shows each request exactly as GET /v1/requests/{id} does.
    const listed = (await everyPage(api.tokens.carol, 'state=pending')).requests.find((request) => request.requestId === id);
    expect(listed).toEqual(pending.json());

    clock.advance(1000);
    expect((await call(api.tokens.carol, 'POST', `/v1/requests/${id}/deny`, { reason: 'not this pod, use the read-only role' })).statusCode).toBe(204);
    const denied = (await call(api.tokens.dave, 'GET', `/v1/requests/${id}`)).json();
    expect(denied).toMatchObject({
      state: 'denied',
      approvals: [{ approver: 'bob', reason: 'paged, INC-9 confirmed' }],
      decision: { outcome: 'denied', at: expect.stringMatching(ISO), by: 'carol', reason: 'not this pod, use the read-only role', rule: 'approval.denied' },
    });
    expect(denied.required).toBeUndefined();
  });

  it('shows who approved and why once issued, the last approver included', async () => {
    const id = await ask(api.tokens.dave, 'break-glass');
    expect((await call(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'first look' })).statusCode).toBe(200);
    expect((await call(api.tokens.carol, 'POST', `/v1/requests/${id}/approve`, { reason: 'second look' })).statusCode).toBe(201);
    const issued = (await call(api.tokens.dave, 'GET', `/v1/requests/${id}`)).json();
    expect(issued).toMatchObject({ state: 'issued', decision: { outcome: 'issued' }, serial: expect.stringMatching(/^[0-9]+$/) });
    expect(issued.approvals.map((approval: { approver: string; reason: string }) => [approval.approver, approval.reason])).toEqual([
      ['bob', 'first look'],
      ['carol', 'second look'],
    ]);
  });

  it('pages through every request the caller may see, newest first, with no repeats or gaps, while new requests arrive', async () => {
    const before = new Set((await everyPage(api.tokens.bob, 'state=pending')).ids);
    const created: string[] = [];
    // Several per clock reading: the id breaks ties in created_at.
    for (let i = 0; i < 23; i++) {
      if (i % 4 === 0) clock.advance(1000);
      created.push(await ask(api.tokens.dave, i % 2 === 0 ? 'break-glass' : 'gateway-reviewed'));
    }
    const expected = new Set([...before, ...created]);
    for (const limit of [1, 5, 7, 100]) {
      const { ids, pages } = await everyPage(api.tokens.bob, `state=pending&limit=${limit}`);
      expect(new Set(ids)).toEqual(expected);
      // A full last page says so (one more is read than shown): no empty page at the end.
      expect(pages).toBe(Math.max(1, Math.ceil(expected.size / limit)));
    }
    // Newest first, ties by id, descending.
    const { requests } = await everyPage(api.tokens.bob, 'state=pending&limit=4');
    const order = requests.map((request) => `${String(request.createdAt)} ${String(request.requestId)}`);
    expect(order).toEqual([...order].sort().reverse());

    // A request made between two pages comes before the cursor: the rest neither repeats nor skips.
    const first = (await call(api.tokens.bob, 'GET', '/v1/requests?state=pending&limit=6')).json();
    clock.advance(1000);
    const late = await ask(api.tokens.dave, 'break-glass');
    const rest = await everyPage(api.tokens.bob, 'state=pending&limit=6', first.nextCursor);
    expect(new Set([...first.requests.map((request: { requestId: string }) => request.requestId), ...rest.ids])).toEqual(expected);
    expect(rest.ids).not.toContain(late);
    // The same position is the same cursor.
    expect((await call(api.tokens.bob, 'GET', '/v1/requests?state=pending&limit=6')).json().requests.length).toBe(6);
    const again = (await call(api.tokens.carol, 'GET', `/v1/requests?state=pending&limit=6&cursor=${first.nextCursor}`)).json();
    expect(again.requests[0].requestId).toBe(rest.ids[0]);
  });

  it('shows outsiders nothing, requesters their own, and approvers their roles; mine and to-approve narrow it', async () => {
    const daves = await ask(api.tokens.dave, 'break-glass');
    const alices = await ask(api.tokens.alice, 'oncall-payments');
    expect((await everyPage(api.tokens.mallory, '')).ids).toEqual([]);
    expect((await everyPage(api.tokens.mallory, 'state=issued')).ids).toEqual([]);
    expect((await call(api.tokens.mallory, 'GET', `/v1/requests/${daves}`)).statusCode).toBe(404);

    const alice = await everyPage(api.tokens.alice, '');
    expect(alice.ids).toContain(alices);
    expect(alice.requests.every((request) => request.requester === 'alice')).toBe(true);
    expect(alice.requests.find((request) => request.requestId === alices)).toMatchObject({ state: 'issued', decision: { outcome: 'issued' } });

    const dave = await everyPage(api.tokens.dave, 'mine');
    expect(dave.ids).toContain(daves);
    expect(dave.requests.every((request) => request.requester === 'dave')).toBe(true);
    expect((await everyPage(api.tokens.dave, 'to-approve')).ids).toEqual([]);

    const bob = await everyPage(api.tokens.bob, 'to-approve=true');
    expect(bob.ids).toContain(daves);
    expect(bob.ids).not.toContain(alices);
    expect(bob.requests.every((request) => ['break-glass', 'gateway-reviewed'].includes(String(request.role)) && request.requester !== 'bob')).toBe(true);
    expect((await everyPage(api.tokens.bob, 'mine')).ids).toEqual([]);
  });

  it('through the SSH gateway lists and shows only roles that accept the gateway', async () => {
    const breakGlass = await ask(api.tokens.dave, 'break-glass');
    const reviewed = await ask(api.tokens.dave, 'gateway-reviewed');
    const listed = async (token: string, query: string) => {
      const response = await viaGateway(token, `/v1/requests?${query}&limit=100`);
      expect(response.statusCode, response.body).toBe(200);
      return response.json().requests as Array<{ requestId: string; role: string }>;
    };
    for (const [token, query] of [[api.tokens.bob, 'state=pending'], [api.tokens.dave, 'mine'], [api.tokens.bob, 'to-approve']] as const) {
      const requests = await listed(token, query);
      expect(requests.map((request) => request.requestId)).toContain(reviewed);
      expect(requests.map((request) => request.requestId)).not.toContain(breakGlass);
      expect(requests.every((request) => request.role === 'gateway-reviewed')).toBe(true);
    }
    expect((await viaGateway(api.tokens.bob, `/v1/requests/${reviewed}`)).statusCode).toBe(200);
    const refused = await viaGateway(api.tokens.bob, `/v1/requests/${breakGlass}`);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'role.gateway' } });
    // Directly, the same person sees both.
    const direct = (await everyPage(api.tokens.bob, 'state=pending')).ids;
    expect(direct).toEqual(expect.arrayContaining([breakGlass, reviewed]));
  });

  it('lists an overdue request as expired, not pending', async () => {
    const id = await ask(api.tokens.dave, 'break-glass');
    clock.advance(15 * 60_000 + 1);
    expect((await everyPage(api.tokens.bob, 'state=pending')).ids).not.toContain(id);
    const expired = (await everyPage(api.tokens.bob, 'state=expired')).requests.find((request) => request.requestId === id);
    expect(expired).toMatchObject({ state: 'expired', decision: { outcome: 'expired' } });
  });

  it('refuses hostile query parameters with 400 ERR_REQUEST_INVALID and changes nothing', async () => {
    await ask(api.tokens.dave, 'break-glass');
    clock.advance(15 * 60_000 + 1); // an overdue request: a list that ran would expire it (a write)
    const position = `${new Date(clock.now()).toISOString()} req_${'f'.repeat(32)}`;
    const forged = [
      'not base64!',
      Buffer.from('x y').toString('base64url'),
      Buffer.from('2030-01-01T09:00:00.000Z req_1').toString('base64url'),
      Buffer.from(`2030-01-01T09:00:00.000Z req_${'0'.repeat(32)} extra`).toString('base64url'),
      Buffer.from(`2030-01-01 req_${'0'.repeat(32)}`).toString('base64url'),
      `${Buffer.from(position).toString('base64url')}A`,
      Buffer.from(position).toString('base64'), // padded base64: not the one spelling the API gives
      'a'.repeat(5000),
    ];
    const queries = [
      'state=bogus',
      'state=pending&state=issued',
      'state=',
      'limit=0',
      'limit=101',
      'limit=99999999999',
      'limit=-1',
      'limit=1e2',
      'limit=abc',
      'mine=false',
      'mine&to-approve',
      'admin=true',
      'requester=dave',
      ...forged.map((cursor) => `cursor=${encodeURIComponent(cursor)}`),
    ];
    const before = api.rowCounts();
    for (const query of queries) {
      const response = await call(api.tokens.bob, 'GET', `/v1/requests?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().code, query).toBe('ERR_REQUEST_INVALID');
      expect(response.json().details, query).toHaveProperty('path');
    }
    expect(api.rowCounts()).toEqual(before);
    // The well-formed position is accepted: it is where a page would start, and shows only what the caller may see.
    expect((await call(api.tokens.mallory, 'GET', `/v1/requests?cursor=${Buffer.from(position).toString('base64url')}`)).json()).toEqual({ requests: [] });
  });

  it('publishes the list in /openapi.json with its query parameters', async () => {
    const spec = (await api.app.inject({ url: '/openapi.json' })).json();
    const list = spec.paths['/v1/requests']?.get;
    expect(list).toBeDefined();
    expect(list.parameters.map((parameter: { name: string; in: string }) => `${parameter.in}:${parameter.name}`).sort()).toEqual(
      ['query:cursor', 'query:limit', 'query:mine', 'query:state', 'query:to-approve'],
    );
    expect(Object.keys(list.responses)).toEqual(expect.arrayContaining(['200', '400', '401']));
    expect(spec.paths['/v1/requests/{id}'].get.responses['200'].content['application/json'].schema.properties).toHaveProperty('decision');
  });
});
