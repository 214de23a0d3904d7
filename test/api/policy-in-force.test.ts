/**
 * Every API path decides under the policy in force when the request arrives, not the one serve
 * started with: a reload (here the holder's swap, which SIGHUP and the file watch end in) applies
 * to the next SSH and X.509 issuance, revocation and final approval. A request that already read
 * its policy finishes under it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { issueSshCertificate } from '../../src/issuance/issue-ssh-certificate.ts';
import type { PolicyVersion } from '../../src/issuance/policy-in-force.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

let api: ApiFixture;
let key: TempSshKey;
let dir: string;
let started: PolicyVersion;

beforeAll(async () => {
  api = await createApiFixture();
  key = createTempSshKey('jitca-policy-in-force-');
  dir = mkdtempSync(path.join(tmpdir(), 'jitca-policy-in-force-'));
  started = api.ca.runtime.policyInForce.current();
});
afterEach(() => api.ca.runtime.policyInForce.replace(started));
afterAll(async () => {
  await api?.close();
  key?.cleanup();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** What a reload ends in: the holder swapped to the policy the file now says. */
function reloadTo(changes: (policy: typeof testPolicy) => Record<string, unknown>): void {
  api.ca.runtime.policyInForce.replace({ policy: parsePolicy(JSON.stringify(changes(testPolicy))), digest: 'reloaded', loadedAt: Date.now() });
}

/** testPolicy with one role's fields changed. */
function withRole(name: string, fields: Record<string, unknown>): (policy: typeof testPolicy) => Record<string, unknown> {
  return (policy) => ({ ...policy, roles: policy.roles.map((role) => (role.name === name ? { ...role, ...fields } : role)) });
}

const call = (token: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
  api.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });

const askSsh = () => call(api.tokens.alice, 'POST', '/v1/ssh/certificates', { publicKey: key.publicKey, role: 'oncall-payments', ttl: '5m', reason: 'INC-1' });

describe('the API decides under the policy in force', () => {
  it('SSH issuance: the next request after a reload is decided by the new policy', async () => {
    expect((await askSsh()).statusCode).toBe(201);
    reloadTo(withRole('oncall-payments', { groups: ['payments-leads'] }));
    const denied = await askSsh();
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('ERR_POLICY_DENIED');
  });

  it('X.509 issuance: the next CSR after a reload is decided by the new policy', async () => {
    const keyFile = path.join(dir, 'alice.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', keyFile]);
    const csr = execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=alice'], { encoding: 'utf8' });
    const ask = () => call(api.tokens.alice, 'POST', '/v1/x509/certificates', { csr, ttl: '10m', scope: { cluster: 'prod', namespace: 'payments' } });
    expect((await ask()).statusCode).toBe(201);
    reloadTo(withRole('oncall-payments', { groups: ['payments-leads'] }));
    const denied = await ask();
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('ERR_POLICY_DENIED');
  });

  it('revocation: who may revoke is read from the policy in force', async () => {
    const issued = await askSsh();
    expect(issued.statusCode).toBe(201);
    reloadTo((policy) => ({ ...policy, revokerGroups: ['security'] }));
    const refused = await call(api.tokens.bob, 'POST', `/v1/ssh/certificates/${issued.json().serial}/revoke`, { reason: 'leaked' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('ERR_POLICY_DENIED');
    api.ca.runtime.policyInForce.replace(started);
    expect((await call(api.tokens.bob, 'POST', `/v1/ssh/certificates/${issued.json().serial}/revoke`, { reason: 'leaked' })).statusCode).toBe(200);
  });

  it('a pending request is decided again at its final approval, under the policy in force then', async () => {
    const asked = await call(api.tokens.dave, 'POST', '/v1/ssh/certificates', { publicKey: key.publicKey, role: 'break-glass', scope: { cluster: 'prod', namespace: 'payments' }, reason: 'prod down' });
    expect(asked.statusCode).toBe(202);
    const id = asked.json().requestId as string;
    expect((await call(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'INC-7' })).statusCode).toBe(200);
    // The security team takes break-glass away from dave's group before the second approval.
    reloadTo(withRole('break-glass', { groups: ['sre-oncall'] }));
    const final = await call(api.tokens.carol, 'POST', `/v1/requests/${id}/approve`, { reason: 'ok' });
    expect(final.statusCode).toBe(403);
    expect(final.json().code).toBe('ERR_POLICY_DENIED');
    expect((await call(api.tokens.dave, 'GET', `/v1/requests/${id}`)).json()).toMatchObject({ state: 'denied' });
  });

  it('a request that read its policy before the reload finishes under it', async () => {
    const inFlight = api.ca.runtime.sshIssuance;
    reloadTo(withRole('oncall-payments', { groups: ['payments-leads'] }));
    const alice = { subject: 'alice', groups: ['oncall-payments'], via: 'oidc' as const };
    const input = { publicKey: key.publicKey, role: 'oncall-payments', ttlSeconds: 300, reason: 'INC-2' };
    expect((await issueSshCertificate(inFlight, alice, input)).status).toBe('issued');
    const next = await issueSshCertificate(api.ca.runtime.sshIssuance, alice, input).catch((error: unknown) => error);
    expect(isJitcaError(next, ErrorCodes.POLICY_DENIED)).toBe(true);
  });
});
