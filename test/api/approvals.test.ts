import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { sweepExpiredRequests } from '../../src/issuance/request-lifecycle.ts';
import { parseCertificate } from '../../src/ssh/certificate.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

describe('manual approval (break-glass: two approvers from sre-leads)', () => {
  const clock = fixedClock(Date.now());
  let api: ApiFixture;
  let key: TempSshKey;

  beforeAll(async () => {
    api = await createApiFixture({ issuanceClock: clock });
    key = createTempSshKey('jitca-approval-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
    api.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });

  async function requestBreakGlass(): Promise<string> {
    const response = await call(api.tokens.dave, 'POST', '/v1/ssh/certificates', { publicKey: key.publicKey, role: 'break-glass', scope: { cluster: 'prod', namespace: 'payments' }, reason: 'prod down' });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toMatchObject({ status: 'pending', required: 2, approverGroups: ['sre-leads'] });
    return response.json().requestId as string;
  }

  it('goes pending, refuses self-approval and double approval, issues after two distinct approvers', async () => {
    const id = await requestBreakGlass();
    const self = await call(api.tokens.dave, 'POST', `/v1/requests/${id}/approve`, { reason: 'me' });
    expect(self.statusCode).toBe(403);
    expect(self.json()).toMatchObject({ code: 'ERR_APPROVAL_REFUSED', details: { rule: 'approval.self' } });
    // Not an approver of this role: as for GET, the request does not exist for them.
    const outsider = await call(api.tokens.alice, 'POST', `/v1/requests/${id}/approve`, { reason: 'sure' });
    expect(outsider.statusCode).toBe(404);
    expect(outsider.json()).toMatchObject({ code: 'ERR_REQUEST_NOT_FOUND' });

    expect((await call(api.tokens.dave, 'GET', `/v1/requests/${id}/certificate`)).statusCode).toBe(202);
    const first = await call(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'checked INC-7' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ status: 'pending', approvals: ['bob'], required: 2 });
    const twice = await call(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'again' });
    expect(twice.json()).toMatchObject({ code: 'ERR_APPROVAL_REFUSED', details: { rule: 'approval.duplicate' } });

    const second = await call(api.tokens.carol, 'POST', `/v1/requests/${id}/approve`, { reason: 'ok' });
    expect(second.statusCode).toBe(201);
    expect(second.json().certificate).toBeUndefined(); // the approver never receives the credential

    expect((await call(api.tokens.bob, 'GET', `/v1/requests/${id}/certificate`)).json().code).toBe('ERR_FORBIDDEN');
    const fetched = await call(api.tokens.dave, 'GET', `/v1/requests/${id}/certificate`);
    expect(fetched.statusCode).toBe(200);
    const certificate = parseCertificate(fetched.json().certificate);
    expect(certificate.principals).toEqual(['root-debug']);
    expect(certificate.customExtensions['approval@jitca.dev']).toBe(`approved:${id}:bob,carol`);
    const status = await call(api.tokens.bob, 'GET', `/v1/requests/${id}`);
    expect(status.json()).toMatchObject({ state: 'issued', approvals: [{ approver: 'bob', reason: 'checked INC-7' }, { approver: 'carol', reason: 'ok' }], requester: 'dave' });
    const audit = await api.ca.runtime.store.listAudit();
    expect(audit.filter((record) => record.requestId === id).map((record) => record.type)).toEqual(['request.pending', 'request.approved', 'ssh.issued']);
  });

  it('audits the final approver and their reason with the issuance, once', async () => {
    const id = await requestBreakGlass();
    expect((await call(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'paged, INC-7 confirmed' })).statusCode).toBe(200);
    expect((await call(api.tokens.carol, 'POST', `/v1/requests/${id}/approve`, { reason: 'second look, INC-7' })).statusCode).toBe(201);
    const records = (await api.ca.runtime.store.listAudit({ limit: 1000 })).filter((record) => record.requestId === id);
    expect(records.map((record) => [record.type, record.actor])).toEqual([['request.pending', 'dave'], ['request.approved', 'bob'], ['ssh.issued', 'dave']]);
    expect(records[1]?.data).toMatchObject({ reason: 'paged, INC-7 confirmed' });
    expect(records[2]?.data).toMatchObject({
      approvedBy: ['bob', 'carol'],
      finalApproval: { approver: 'carol', via: 'oidc', groups: ['sre-leads'], reason: 'second look, INC-7' },
    });
  });

  it('refuses approval and denial reasons with control characters (audit and terminal injection), writing nothing', async () => {
    const id = await requestBreakGlass();
    const before = api.rowCounts();
    for (const reason of ['ok\u0000', 'ok\u001b[2K\rapproved by security', 'ok\u007f', 'line\r\nforged: approved']) {
      for (const [token, action] of [[api.tokens.bob, 'approve'], [api.tokens.dave, 'deny']] as const) {
        const response = await call(token, 'POST', `/v1/requests/${id}/${action}`, { reason });
        expect(response.statusCode, `${action} ${JSON.stringify(reason)}`).toBe(400);
        expect(response.json()).toMatchObject({ code: 'ERR_REQUEST_INVALID', details: { path: '/reason' } });
      }
    }
    expect(api.rowCounts()).toEqual(before);
    // Tab and newline are text, as in a request's reason.
    const approved = await call(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'INC-7:\n\tpager confirmed' });
    expect(approved.statusCode).toBe(200);
    const withdrawn = await call(api.tokens.dave, 'POST', `/v1/requests/${id}/deny`, { reason: 'fixed\tmyself' });
    expect(withdrawn.statusCode).toBe(204);
  });

  it('lets an approver deny, after which nobody can approve', async () => {
    const id = await requestBreakGlass();
    const denied = await call(api.tokens.bob, 'POST', `/v1/requests/${id}/deny`, { reason: 'not an incident' });
    expect(denied.statusCode).toBe(204);
    const late = await call(api.tokens.carol, 'POST', `/v1/requests/${id}/approve`, { reason: 'ok' });
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('ERR_REQUEST_NOT_PENDING');
  });

  it('expires pending requests after 15 minutes', async () => {
    const id = await requestBreakGlass();
    clock.advance(15 * 60_000 + 1);
    const status = await call(api.tokens.dave, 'GET', `/v1/requests/${id}`);
    expect(status.json().state).toBe('expired');
    const late = await call(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'ok' });
    expect(late.json().code).toBe('ERR_REQUEST_NOT_PENDING');
    expect((await api.ca.runtime.store.listAudit()).some((record) => record.requestId === id && record.type === 'request.expired')).toBe(true);
  });

  it('the sweep expires overdue requests without anyone looking at them', async () => {
    const id = await requestBreakGlass();
    const before = await api.ca.runtime.store.countRequests('pending');
    clock.advance(15 * 60_000 + 1);
    expect(await sweepExpiredRequests({ ...api.ca.runtime.sshIssuance, clock })).toBeGreaterThanOrEqual(1);
    expect((await api.ca.runtime.store.getRequest(id))?.state).toBe('expired');
    expect(await api.ca.runtime.store.countRequests('pending')).toBe(before - 1);
    expect(await sweepExpiredRequests({ ...api.ca.runtime.sshIssuance, clock })).toBe(0);
  });

  it('hides requests from people who are neither requester nor approver', async () => {
    const id = await requestBreakGlass();
    expect((await call(api.tokens.alice, 'GET', `/v1/requests/${id}`)).statusCode).toBe(404);
    expect((await call(api.tokens.alice, 'GET', '/v1/requests/not-an-id')).statusCode).toBe(400);
  });

  it('tells an outsider nothing through approve, deny or the certificate fetch: not that it exists, its state, role or approvers', async () => {
    const unknown = `req_${'0'.repeat(32)}`;
    const pendingId = await requestBreakGlass();
    const issuedId = await requestBreakGlass();
    expect((await call(api.tokens.bob, 'POST', `/v1/requests/${issuedId}/approve`, { reason: 'INC-7' })).statusCode).toBe(200);
    expect((await call(api.tokens.carol, 'POST', `/v1/requests/${issuedId}/approve`, { reason: 'INC-7' })).statusCode).toBe(201);
    const deniedId = await requestBreakGlass();
    expect((await call(api.tokens.bob, 'POST', `/v1/requests/${deniedId}/deny`, { reason: 'no' })).statusCode).toBe(204);
    const before = api.rowCounts();
    const probes: Array<['GET' | 'POST', string, Record<string, unknown>?]> = [
      ['POST', 'approve', { reason: 'sure' }],
      ['POST', 'deny', { reason: 'nope' }],
      ['GET', 'certificate'],
    ];
    for (const [method, action, payload] of probes) {
      const answers = [];
      for (const id of [unknown, pendingId, issuedId, deniedId]) {
        const response = await call(api.tokens.mallory, method, `/v1/requests/${id}/${action}`, payload);
        answers.push([response.statusCode, response.json().code, response.body.includes('sre-leads') || response.body.includes('break-glass')]);
      }
      expect(answers, action).toEqual(Array(4).fill([404, 'ERR_REQUEST_NOT_FOUND', false]));
    }
    expect(api.rowCounts()).toEqual(before);
    expect((await api.ca.runtime.store.getRequest(pendingId))?.state).toBe('pending');
  });
});
