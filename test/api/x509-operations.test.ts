/**
 * The operation matrix on the Kubernetes credential paths that go through the API (issue 15):
 * POST /v1/x509/certificates with `operations`, and the kubectl credential plugin
 * (obtainKubeCredential, what `jitca kube-credential --operation` runs). The certificate's O values
 * are exactly the groups of the operations granted; the audit names the operations.
 */
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConfig } from '../../src/client/client-config.ts';
import { obtainKubeCredential } from '../../src/client/kube-credential.ts';
import { isJitcaError } from '../../src/errors.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';

const READ = 'jit:payments:debug-read-only';
const EXEC = 'jit:payments:debug-exec';
const EPHEMERAL = 'jit:payments:debug-ephemeral';
const FORWARD = 'jit:payments:debug-portforward';
const GROUPS = [READ, EXEC, EPHEMERAL, FORWARD, 'jit:payments:unbound'];
const leads = { mode: 'manual', approverGroups: ['sre-leads'], approvals: 1 };

/** The groups of deploy/kubernetes/rbac-operation-roles.json, per operation. */
const groupsOf = { 'view-logs': [READ], 'view-config': [READ], exec: [EXEC], debug: [EXEC, EPHEMERAL], 'port-forward': [FORWARD] };
function matrix(approval: (name: string) => unknown): unknown[] {
  const max: Record<string, number> = { 'view-logs': 1800, 'view-config': 1800, exec: 1800, debug: 900, 'port-forward': 3600 };
  return Object.entries(groupsOf).map(([name, kubernetesGroups]) => ({ name, approval: approval(name), maxTtlSeconds: max[name], kubernetesGroups }));
}
const role = (name: string, groups: string[], operations: unknown[]) => ({
  name,
  groups,
  principals: [name],
  maxTtlSeconds: 3600,
  scope: { clusters: ['prod'], namespaces: ['payments'] },
  approval: { mode: 'auto' },
  operations,
  kubernetes: { groups: GROUPS, maxExpirationSeconds: 3600 },
});
const policy = {
  version: 1,
  extensionDomain: 'jitca.dev',
  roles: [
    // The table: logs and config at once, the rest with approvers (which the API cannot wait for).
    role('oncall-payments', ['oncall-payments'], matrix((name) => (name.startsWith('view-') ? { mode: 'auto' } : { ...leads, approvals: name === 'debug' ? 2 : 1 }))),
    // Every operation automatic, so each one's groups and lifetime can be seen issued.
    role('sre-payments', ['sre'], matrix(() => ({ mode: 'auto' }))),
  ],
};

let api: ApiFixture;
let dir: string;

beforeAll(async () => {
  api = await createApiFixture({ policy });
  dir = mkdtempSync(path.join(tmpdir(), 'jitca-x509-operations-'));
});
afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

let keys = 0;
function csr(subject = '/CN=whoever'): string {
  const key = path.join(dir, `key-${keys++}.pem`);
  execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', key]);
  return execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject], { encoding: 'utf8' });
}
const post = (token: string, payload: Record<string, unknown>) =>
  api.app.inject({ method: 'POST', url: '/v1/x509/certificates', headers: { authorization: `Bearer ${token}` }, payload: { csr: csr(), ...payload } });
function organizationsOf(pem: string): string[] {
  return new X509Certificate(pem).subject.split('\n').filter((line) => line.startsWith('O=')).map((line) => line.slice(2)).sort();
}
function seconds(body: { notBefore: string; notAfter: string }): number {
  // Issuance backdates notBefore by 60 s (validityWindow).
  return (Date.parse(body.notAfter) - Date.parse(body.notBefore)) / 1000 - 60;
}
async function auditOf(requestId: string, type: string): Promise<Record<string, unknown> | undefined> {
  const records = await api.ca.runtime.store.listAudit({ limit: 1000 });
  return records.find((record) => record.requestId === requestId && record.type === type)?.data as Record<string, unknown> | undefined;
}

describe('POST /v1/x509/certificates with operations', () => {
  it.each([
    [['view-logs'], [READ], ['view-logs', 'view-config'], 1800],
    [['view-config'], [READ], ['view-logs', 'view-config'], 1800],
    [['exec'], [EXEC], ['exec'], 1800],
    [['debug'], [EXEC, EPHEMERAL], ['exec', 'debug'], 900],
    [['port-forward'], [FORWARD], ['port-forward'], 3600],
    [['port-forward', 'view-logs'], [READ, FORWARD], ['view-logs', 'view-config', 'port-forward'], 1800],
  ])('%j: O=%j exactly, operations %j in the reply and the audit, at most %i s', async (operations, groups, enabled, max) => {
    const response = await post(api.tokens.dave, { operations, ttl: '24h' });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(organizationsOf(body.certificate)).toEqual([...groups].sort());
    expect([...body.groups].sort()).toEqual([...groups].sort());
    expect(body.operations).toEqual(enabled);
    expect(seconds(body)).toBe(max);
    expect(await auditOf(body.requestId, 'x509.issued')).toMatchObject({ role: 'sre-payments', operations: enabled, expirationSeconds: max, capped: true });
  });

  it('without operations: the least the role allows (view-logs, and view-config with it)', async () => {
    const response = await post(api.tokens.alice, {});
    expect(response.statusCode).toBe(201);
    expect(organizationsOf(response.json().certificate)).toEqual([READ]);
    expect(response.json().operations).toEqual(['view-logs', 'view-config']);
  });

  it.each([
    ['an operation needing approval (the API cannot wait)', { operations: ['exec'] }, 'csr.manual-approval'],
    ['the strictest of several', { operations: ['view-logs', 'debug'] }, 'csr.two-approvers'],
    ['a group no operation grants, from the CSR', { subject: '/CN=alice/O=jit:payments:unbound' }, 'csr.groups-beyond-operations'],
    ['a group beside an operation’s, from the CSR', { subject: `/CN=alice/O=${READ}/O=jit:payments:unbound` }, 'csr.groups-beyond-operations'],
    ['only part of debug’s groups, from the CSR', { subject: `/CN=alice/O=${EPHEMERAL}` }, 'csr.groups-beyond-operations'],
    ['operations and O values at once', { subject: `/CN=alice/O=${READ}`, operations: ['view-logs'] }, 'request.invalid'],
  ])('refuses %s with the rule named, issuing nothing', async (_what, asked: { subject?: string; operations?: string[] }, rule) => {
    const { subject, ...payload } = asked;
    const before = api.rowCounts();
    const response = await post(api.tokens.alice, subject === undefined ? payload : { ...payload, csr: csr(subject) });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule } });
    const after = api.rowCounts();
    expect(after.certificates).toBe(before.certificates);
    expect(await auditOf(response.json().details.requestId, 'x509.denied')).toMatchObject({ rule });
  });

  it('the audit of a refusal names the operations asked', async () => {
    const response = await post(api.tokens.alice, { operations: ['exec'] });
    expect(await auditOf(response.json().details.requestId, 'x509.denied')).toMatchObject({ operations: ['exec'], organizations: [EXEC] });
  });

  it.each([
    ['an unknown operation', { operations: ['ssh'] }],
    ['an operation twice', { operations: ['exec', 'exec'] }],
    ['an empty list', { operations: [] }],
    ['not a list', { operations: 'exec' }],
  ])('rejects %s as a malformed body (400), writing nothing', async (_what, payload) => {
    const before = api.rowCounts();
    const response = await post(api.tokens.dave, payload);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toMatch(/^ERR_/);
    expect(api.rowCounts()).toEqual(before);
  });
});

describe('the kubectl credential plugin with --operation', () => {
  let server: string;
  beforeAll(async () => {
    server = await api.app.listen({ host: '127.0.0.1', port: 0 });
  });

  function engineer(name: 'alice' | 'dave'): ClientConfig {
    const home = path.join(dir, `home-${name}`);
    mkdirSync(home, { recursive: true });
    const tokenFile = path.join(home, 'token');
    writeFileSync(tokenFile, api.tokens[name], { mode: 0o600 });
    return { server, tokenCommand: ['cat', tokenFile], tokenCache: path.join(home, 'cache', 'token.json') };
  }

  it.each(Object.entries(groupsOf))('%s: the certificate kubectl gets carries O=%j', async (operation, groups) => {
    const obtained = await obtainKubeCredential(engineer('dave'), { cluster: 'prod', ttl: '24h', operations: [operation] });
    expect(obtained.source).toBe('issued');
    expect(organizationsOf(obtained.credential.certificatePem)).toEqual([...groups].sort());
    const lifetime = (obtained.credential.notAfter.getTime() - obtained.credential.notBefore.getTime()) / 1000 - 60;
    expect(lifetime).toBe(operation === 'debug' ? 900 : operation === 'port-forward' ? 3600 : 1800);
  });

  it('a cached certificate for other operations is not reused; the same operations are', async () => {
    const dave = engineer('dave');
    const exec = await obtainKubeCredential(dave, { cluster: 'prod', operations: ['exec'] });
    const again = await obtainKubeCredential(dave, { cluster: 'prod', operations: ['exec'] });
    expect(again.source).toBe('cache');
    expect(again.credential.serial).toBe(exec.credential.serial);
    const forward = await obtainKubeCredential(dave, { cluster: 'prod', operations: ['port-forward'] });
    expect(forward.source).toBe('issued');
    expect(organizationsOf(forward.credential.certificatePem)).toEqual([FORWARD]);
    const none = await obtainKubeCredential(dave, { cluster: 'prod' });
    expect(none.source).toBe('issued');
    expect(organizationsOf(none.credential.certificatePem)).toEqual([READ]);
  });

  it('an operation needing approval reaches kubectl as the server’s refusal, nothing cached', async () => {
    let failure: unknown;
    try {
      await obtainKubeCredential(engineer('alice'), { cluster: 'prod', operations: ['exec'] });
    } catch (error) {
      failure = error;
    }
    expect(isJitcaError(failure) && failure.code).toBe('ERR_POLICY_DENIED');
    expect(String((failure as Error).message)).toContain('needs a person');
  });
});
