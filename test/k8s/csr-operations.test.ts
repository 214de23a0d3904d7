/**
 * The operation matrix on the CSR controller path (issue 15): a CSR's O values are the groups it
 * asks, so they must be exactly the groups of some of the role's operations; the strictest of those
 * decides (automatic, or left for a person), the shortest lifetime caps, and the audit names them.
 * The real controller against the kube API double, signing with the SoftHSM2 CA.
 */
import { X509Certificate } from 'node:crypto';
import { CertificatesV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/load.ts';
import type { AuditRecord } from '../../src/store/types.ts';
import { TOKENS, createCaFixture, createCsrEnvironment, type CaFixture, type CsrEnvironment } from '../support/kube-csr-harness.ts';
import { opensslCsr, opensslVerifyClient } from '../support/kube-openssl.ts';

const READ = 'jit:payments:debug-read-only';
const EXEC = 'jit:payments:debug-exec';
const EPHEMERAL = 'jit:payments:debug-ephemeral';
const FORWARD = 'jit:payments:debug-portforward';
const leads = { mode: 'manual', approverGroups: ['sre-leads'] };

/** The issue's table with deploy/kubernetes/rbac-operation-roles.json's groups; alice is in oncall-payments. */
const policy = parsePolicy(
  JSON.stringify({
    version: 1,
    extensionDomain: 'jitca.dev',
    roles: [
      {
        name: 'oncall-payments',
        groups: ['oncall-payments'],
        principals: ['oncall-payments'],
        maxTtlSeconds: 3600,
        scope: { clusters: ['prod'], namespaces: ['payments'] },
        approval: { mode: 'auto' },
        operations: [
          { name: 'view-logs', approval: { mode: 'auto' }, maxTtlSeconds: 1800, kubernetesGroups: [READ] },
          { name: 'view-config', approval: { mode: 'auto' }, maxTtlSeconds: 1800, kubernetesGroups: [READ] },
          { name: 'exec', approval: { ...leads, approvals: 1 }, maxTtlSeconds: 1800, kubernetesGroups: [EXEC] },
          { name: 'debug', approval: { ...leads, approvals: 2 }, maxTtlSeconds: 900, kubernetesGroups: [EXEC, EPHEMERAL] },
          { name: 'port-forward', approval: { ...leads, approvals: 1 }, maxTtlSeconds: 3600, kubernetesGroups: [FORWARD] },
        ],
        kubernetes: { groups: [READ, EXEC, EPHEMERAL, FORWARD, 'jit:payments:unbound'], maxExpirationSeconds: 3600 },
      },
    ],
  }),
);

let ca: CaFixture;
let env: CsrEnvironment;

beforeAll(async () => {
  ca = await createCaFixture();
  env = await createCsrEnvironment(ca);
  await env.startController({ policy });
});
afterAll(async () => {
  await env?.close();
  ca?.close();
});

async function auditOf(name: string, type: string): Promise<AuditRecord | undefined> {
  return (await env.store.listAudit({ limit: 10_000 })).find((record) => record.type === type && (record.data as { csr?: string }).csr === name);
}

function subjectOf(groups: readonly string[]): string {
  return `/CN=alice${groups.map((group) => `/O=${group}`).join('')}`;
}

/** A person approves as `kubectl certificate approve` does. */
async function approveByHand(name: string): Promise<void> {
  const admin = env.double.kubeConfig(TOKENS.admin).makeApiClient(CertificatesV1Api);
  const current = await admin.readCertificateSigningRequest({ name });
  current.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'KubectlApprove', message: 'This CSR was approved by kubectl certificate approve.' }] };
  await admin.replaceCertificateSigningRequestApproval({ name, body: current });
}

describe('the CSR controller and the operation matrix', () => {
  it.each([
    ['read', [READ], ['view-logs', 'view-config'], 'auto', 1800],
    ['exec', [EXEC], ['exec'], 'manual', 1800],
    ['forward', [FORWARD], ['port-forward'], 'manual', 3600],
  ] as const)('%s: O=%j enables %j (%s), signed for at most %i s with exactly those groups', async (name, groups, operations, mode, max) => {
    env.submit(TOKENS.alice, { name, pem: opensslCsr(env.dir, 'ed25519', subjectOf(groups)).pem, expirationSeconds: 86_400 });
    if (mode === 'manual') {
      // The strictest operation wants a person: the controller leaves the CSR as it is.
      await env.double.waitFor(() => env.logs.some((entry) => entry.object['csr'] === name && entry.message.includes('waits for a person')), 10_000, `pending log for ${name}`);
      expect(env.double.get(name)?.status).toEqual({});
      await approveByHand(name);
    }
    const pem = await env.waitForCertificate(name);
    expect(opensslVerifyClient(env.dir, ca.caPem, pem).ok).toBe(true);
    const certificate = new X509Certificate(pem);
    expect(certificate.subject.split('\n').sort()).toEqual(['CN=alice', ...groups.map((group) => `O=${group}`)].sort());
    expect((Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / 1000).toBe(max + 60);
    const approved = await auditOf(name, 'csr.approved');
    expect(approved?.data).toMatchObject({ role: 'oncall-payments', groups, operations, rule: mode === 'auto' ? 'csr.allowed' : 'csr.manual-approval' });
  });

  it('debug: O=[exec, ephemeral] needs two approvers, which an Approved condition cannot show: Denied with the rule named, nothing signed', async () => {
    const name = 'debug';
    env.submit(TOKENS.alice, { name, pem: opensslCsr(env.dir, 'ed25519', subjectOf([EXEC, EPHEMERAL])).pem, expirationSeconds: 600 });
    const denied = await env.waitForCondition(name, 'Denied');
    expect(denied).toMatchObject({ reason: 'JitcaTwoApprovers' });
    expect(denied.message).toMatch(/^csr\.two-approvers: role oncall-payments for operations exec, debug needs two distinct approvers from sre-leads/);
    expect(env.certificateOf(name)).toBeUndefined();
    expect((await auditOf(name, 'csr.denied'))?.data).toMatchObject({ rule: 'csr.two-approvers' });
  });

  it.each([
    ['unbound', ['jit:payments:unbound']],
    ['read-and-unbound', [READ, 'jit:payments:unbound']],
    ['half-debug', [EPHEMERAL]],
  ])('%s: O=%j is beyond the operations: Denied with the rule named, nothing signed', async (name, groups) => {
    env.submit(TOKENS.alice, { name, pem: opensslCsr(env.dir, 'ed25519', subjectOf(groups)).pem });
    const denied = await env.waitForCondition(name, 'Denied');
    expect(denied).toMatchObject({ reason: 'JitcaGroupsBeyondOperations' });
    expect(denied.message).toMatch(/^csr\.groups-beyond-operations: /);
    expect(env.certificateOf(name)).toBeUndefined();
    expect((await auditOf(name, 'csr.denied'))?.data).toMatchObject({ rule: 'csr.groups-beyond-operations' });
  });
});
