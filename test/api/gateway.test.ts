import { execFileSync } from 'node:child_process';
import type { OutgoingHttpHeaders } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/ssh/certificate.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { decodePayload, signedTextWithIssuerKey } from '../support/oidc-hostile-tokens.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

describe('the SSH gateway acting for an engineer', () => {
  let api: ApiFixture;
  let key: TempSshKey;

  beforeAll(async () => {
    // testPolicy plus a manual role that accepts the gateway: the control for the refusals below.
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
    api = await createApiFixture({ policy: { ...testPolicy, roles: [...testPolicy.roles, gatewayReviewed] } });
    key = createTempSshKey('jitca-gateway-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  const viaGateway = (gatewayCredential: string, engineerToken: string, url: string, payload: Record<string, unknown>) =>
    api.app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${gatewayCredential}`, 'x-jitca-on-behalf-of': engineerToken },
      payload,
    });

  it('issues to the engineer (not the gateway) for a role that allows the gateway, and audits who asked', async () => {
    const response = await viaGateway(api.gatewayToken, api.tokens.alice, '/v1/ssh/certificates', {
      publicKey: key.publicKey,
      role: 'oncall-payments',
      reason: 'gateway session',
    });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(parseCertificate(body.certificate).keyId).toBe(`alice/${body.requestId}`);
    const record = (await api.ca.runtime.store.listAudit()).find((entry) => entry.requestId === body.requestId);
    expect(record).toMatchObject({ type: 'ssh.issued', actor: 'jitca-ssh-gateway', subject: 'alice' });
    expect(record?.data['via']).toBe('gateway');
  });

  it('refuses roles without allowGateway, for SSH and for Kubernetes certificates', async () => {
    const ssh = await viaGateway(api.gatewayToken, api.tokens.dave, '/v1/ssh/certificates', {
      publicKey: key.publicKey,
      role: 'break-glass',
      scope: { cluster: 'prod', namespace: 'payments' },
      reason: 'x',
    });
    expect(ssh.statusCode).toBe(403);
    expect(ssh.json().details.rule).toBe('role.gateway');
    const csrKey = path.join(key.dir, 'csr.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', csrKey]);
    const csr = execFileSync('openssl', ['req', '-new', '-key', csrKey, '-subj', '/CN=alice'], { encoding: 'utf8' });
    // oncall-payments allows the gateway: a Kubernetes certificate is issued to alice.
    const kube = await viaGateway(api.gatewayToken, api.tokens.alice, '/v1/x509/certificates', { csr });
    expect(kube.statusCode).toBe(201);
  });

  const gatewayCall = (engineerToken: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
    api.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${api.gatewayToken}`, 'x-jitca-on-behalf-of': engineerToken },
      ...(payload === undefined ? {} : { payload }),
    });
  const direct = (token: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
    api.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });

  it('refuses every route on a request of a role without allowGateway: create, read, approve, deny, fetch, revoke', async () => {
    const asked = { publicKey: key.publicKey, role: 'break-glass', scope: { cluster: 'prod', namespace: 'payments' }, reason: 'prod down' };
    const created = await direct(api.tokens.dave, 'POST', '/v1/ssh/certificates', asked);
    expect(created.statusCode).toBe(202);
    const id = created.json().requestId as string;
    const refused = (response: { statusCode: number; json(): unknown }, what: string) => {
      expect(response.statusCode, what).toBe(403);
      expect(response.json(), what).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'role.gateway' } });
    };

    const before = api.rowCounts();
    refused(await gatewayCall(api.tokens.dave, 'POST', '/v1/ssh/certificates', asked), 'create');
    expect(api.rowCounts().audit_log).toBe(before.audit_log + 1); // the create denial is audited, as every denial
    const pending = api.rowCounts();
    refused(await gatewayCall(api.tokens.bob, 'GET', `/v1/requests/${id}`), 'read, approver');
    refused(await gatewayCall(api.tokens.dave, 'GET', `/v1/requests/${id}`), 'read, requester');
    refused(await gatewayCall(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'first' }), 'approve');
    refused(await gatewayCall(api.tokens.bob, 'POST', `/v1/requests/${id}/deny`, { reason: 'no' }), 'deny, approver');
    refused(await gatewayCall(api.tokens.dave, 'POST', `/v1/requests/${id}/deny`, { reason: 'withdrawn' }), 'deny, requester');
    refused(await gatewayCall(api.tokens.dave, 'GET', `/v1/requests/${id}/certificate`), 'fetch, pending');
    expect(api.rowCounts()).toEqual(pending);

    // The reported attack: one approval given directly, the second through the gateway.
    expect((await direct(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'INC-7' })).statusCode).toBe(200);
    const afterFirst = api.rowCounts();
    refused(await gatewayCall(api.tokens.carol, 'POST', `/v1/requests/${id}/approve`, { reason: 'INC-7' }), 'second approval');
    expect(api.rowCounts()).toEqual(afterFirst);
    expect((await api.ca.runtime.store.getRequest(id))?.state).toBe('pending');
    expect((await direct(api.tokens.carol, 'POST', `/v1/requests/${id}/approve`, { reason: 'INC-7' })).statusCode).toBe(201);

    // Issued: the requester collects it only directly, and the gateway cannot revoke it.
    refused(await gatewayCall(api.tokens.dave, 'GET', `/v1/requests/${id}/certificate`), 'fetch, issued');
    const fetched = await direct(api.tokens.dave, 'GET', `/v1/requests/${id}/certificate`);
    expect(fetched.statusCode).toBe(200);
    const issued = api.rowCounts();
    const revoke = await gatewayCall(api.tokens.dave, 'POST', `/v1/ssh/certificates/${fetched.json().serial}/revoke`, { reason: 'done' });
    expect(revoke.statusCode).toBe(403);
    expect(revoke.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'revoke.gateway' } });
    expect(api.rowCounts()).toEqual(issued);
  });

  it('lets the gateway approve and collect for a manual role that accepts it', async () => {
    const created = await gatewayCall(api.tokens.dave, 'POST', '/v1/ssh/certificates', {
      publicKey: key.publicKey,
      role: 'gateway-reviewed',
      scope: { cluster: 'prod', namespace: 'payments' },
      reason: 'gateway session',
    });
    expect(created.statusCode).toBe(202);
    const id = created.json().requestId as string;
    expect((await gatewayCall(api.tokens.bob, 'GET', `/v1/requests/${id}`)).statusCode).toBe(200);
    expect((await gatewayCall(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'ok' })).statusCode).toBe(201);
    const fetched = await gatewayCall(api.tokens.dave, 'GET', `/v1/requests/${id}/certificate`);
    expect(fetched.statusCode).toBe(200);
    expect(parseCertificate(fetched.json().certificate).principals).toEqual(['reviewed-debug']);
  });

  it('refuses a repeated X-Jitca-On-Behalf-Of or Authorization header, writing nothing', async () => {
    const before = api.rowCounts();
    const payload = { publicKey: key.publicKey, role: 'oncall-payments', reason: 'gateway session' };
    const cases: Array<[OutgoingHttpHeaders, string]> = [
      [{ authorization: `Bearer ${api.gatewayToken}`, 'x-jitca-on-behalf-of': [api.tokens.alice, api.tokens.dave] }, 'x-jitca-on-behalf-of'],
      [{ Authorization: [`Bearer ${api.gatewayToken}`, `Bearer ${api.gatewayToken}`], 'x-jitca-on-behalf-of': api.tokens.alice }, 'authorization'],
    ];
    for (const [headers, header] of cases) {
      const response = await api.app.inject({ method: 'POST', url: '/v1/ssh/certificates', headers, payload });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'ERR_AUTHN_MALFORMED', details: { header } });
    }
    expect(api.rowCounts()).toEqual(before);
  });

  it('does not accept an engineer token as the gateway credential, nor a gateway token as an engineer', async () => {
    const swapped = await viaGateway(api.tokens.bob, api.tokens.alice, '/v1/ssh/certificates', { publicKey: key.publicKey, reason: 'x' });
    expect(swapped.statusCode).toBe(401);
    expect(swapped.json().code).toMatch(/^ERR_AUTHN_/);
    const asEngineer = await api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: { authorization: `Bearer ${api.gatewayToken}` },
      payload: { publicKey: key.publicKey, reason: 'x' },
    });
    expect(asEngineer.statusCode).toBe(401);
    expect(asEngineer.json().code).toBe('ERR_AUTHN_AUDIENCE');
  });

  it('refuses an on-behalf-of token naming sub twice (signed by the issuer), writing nothing', async () => {
    const key0 = api.oidc.signingKeys()[0]!;
    const header = JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: key0.kid });
    const claims = JSON.stringify(decodePayload(api.tokens.mallory));
    const twice = signedTextWithIssuerKey(header, `${claims.slice(0, -1)},"sub":"alice"}`, key0);
    const before = api.rowCounts();
    const response = await viaGateway(api.gatewayToken, twice, '/v1/ssh/certificates', { publicKey: key.publicKey, role: 'oncall-payments', reason: 'x' });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'ERR_AUTHN_MALFORMED', details: { reason: 'duplicate_member', segment: 'payload' } });
    expect(api.rowCounts()).toEqual(before);
  });
});
