import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_JITCA_SIGNER, evaluateCsr } from '../../src/policy/csr-evaluate.ts';
import { canApprove, evaluateSshRequest } from '../../src/policy/evaluate.ts';
import { loadPolicy } from '../../src/policy/load.ts';
import { PLAIN_KEY, person } from './policy-fixtures.ts';

const examplePath = path.resolve(import.meta.dirname, '../../deploy/policy.example.json');

describe('deploy/policy.example.json', () => {
  const policy = loadPolicy(examplePath);

  it('loads and holds the on-call roles from the seeds', () => {
    expect(policy.roles.map((role) => role.name)).toEqual(['oncall-payments', 'jit-debug-payments', 'jit-cluster-read', 'break-glass']);
    expect(policy.extensionDomain).toBe('jitca.dev');
  });

  it('payments on-call gets an auto-approved 30-minute certificate for prod/payments', () => {
    const decision = evaluateSshRequest(policy, person('alice', ['oncall-payments']), {
      commands: ['kubectl exec', 'curl localhost:8080/debug/pprof'],
      reason: 'INC-1234 payments p99',
    }, PLAIN_KEY);
    expect(decision).toMatchObject({
      outcome: 'approve',
      grant: {
        role: 'oncall-payments',
        principals: ['oncall-payments'],
        ttlSeconds: 1800,
        scope: { cluster: 'prod', namespace: 'payments' },
        commands: ['kubectl exec', 'curl localhost:8080/debug/pprof'],
      },
    });
  });

  it('an hour is capped to the 30-minute maximum', () => {
    const decision = evaluateSshRequest(policy, person('alice', ['oncall-payments']), { ttlSeconds: 3600 }, PLAIN_KEY);
    expect(decision.outcome === 'approve' && decision.grant.ttlSeconds).toBe(1800);
  });

  it('on-call cannot reach another namespace or run arbitrary commands', () => {
    const alice = person('alice', ['oncall-payments']);
    expect(evaluateSshRequest(policy, alice, { scope: { namespace: 'kube-system' } }, PLAIN_KEY)).toMatchObject({ rule: 'scope.namespace' });
    expect(evaluateSshRequest(policy, alice, { commands: ['kubectl delete namespace payments'] }, PLAIN_KEY)).toMatchObject({
      rule: 'commands.not-allowed',
    });
  });

  it('jit-debug needs one SRE lead', () => {
    const decision = evaluateSshRequest(policy, person('alice', ['jit:oncall:payments']), { scope: { pod: 'payments-api-0' } }, PLAIN_KEY);
    expect(decision).toMatchObject({ outcome: 'pending', approval: { approverGroups: ['sre-leads'], approvals: 1 } });
    expect(canApprove(policy, 'jit-debug-payments', person('carol', ['sre-leads']), 'alice', [])).toEqual({ ok: true });
  });

  it('jit-cluster-read is auto-approved, read-only commands, no pty', () => {
    const decision = evaluateSshRequest(policy, person('alice', ['jit:oncall:cluster'], 'gateway'), {
      scope: { namespace: 'default' },
    }, PLAIN_KEY);
    expect(decision).toMatchObject({ outcome: 'approve', grant: { extensions: [], scope: { cluster: 'prod' } } });
    expect(decision.outcome === 'approve' && decision.grant.commands?.every((command) => command.startsWith('kubectl get') || command.startsWith('kubectl describe'))).toBe(true);
  });

  it('break-glass needs two leads, refuses more than 15 minutes and the gateway, and binds to the VPN ranges', () => {
    const bob = person('bob', ['sre']);
    const request = { scope: { cluster: 'prod', namespace: 'payments' } };
    expect(evaluateSshRequest(policy, bob, { ...request, ttlSeconds: 1800 }, PLAIN_KEY)).toMatchObject({ rule: 'ttl.max' });
    expect(evaluateSshRequest(policy, person('bob', ['sre'], 'gateway'), request, PLAIN_KEY)).toMatchObject({ rule: 'role.gateway' });
    const decision = evaluateSshRequest(policy, bob, request, PLAIN_KEY);
    expect(decision).toMatchObject({
      outcome: 'pending',
      approval: { approverGroups: ['sre-leads'], approvals: 2 },
      grant: { ttlSeconds: 900, sourceAddresses: ['10.40.0.0/16', '2001:db8:40::/48'] },
    });
    expect(canApprove(policy, 'break-glass', person('carol', ['sre-leads']), 'bob', ['dave'])).toEqual({ ok: true });
    expect(canApprove(policy, 'break-glass', person('bob', ['sre', 'sre-leads']), 'bob', [])).toMatchObject({ rule: 'approval.self' });
  });

  it('grants Kubernetes client certificates to the on-call roles, as kube-credential asks for them (jitca’s signer)', () => {
    const ask = (username: string, groups: string[], organizations: string[]) =>
      evaluateCsr(policy, {
        username,
        groups,
        signerName: DEFAULT_JITCA_SIGNER,
        usages: ['client auth', 'digital signature'],
        csr: { subject: { commonName: username, organizations, other: [] }, keyAlgorithm: { kind: 'ed25519' }, requestedExtensions: { all: [] } },
      });
    expect(ask('alice', ['oncall-payments'], ['jit:payments:debug-read-only'])).toMatchObject({ outcome: 'approve', grant: { role: 'oncall-payments', expirationSeconds: 1800 } });
    expect(ask('carl', ['jit:oncall:cluster'], ['jit:oncall:cluster'])).toMatchObject({ outcome: 'approve', grant: { role: 'jit-cluster-read' } });
    expect(ask('alice', ['jit:oncall:payments'], ['jit:oncall:payments'])).toMatchObject({ outcome: 'pending', approverGroups: ['sre-leads'] });
    expect(ask('alice', ['oncall-payments'], ['jit:oncall:cluster'])).toMatchObject({ outcome: 'deny', rule: 'csr.groups-not-allowed' });
    // The role's operations name its Kubernetes groups: the one group no operation grants alone is refused.
    expect(ask('alice', ['oncall-payments'], ['jit:payments:debug-ephemeral'])).toMatchObject({ outcome: 'deny', rule: 'csr.groups-beyond-operations' });
    // break-glass is bound to the VPN ranges, which a client certificate cannot carry.
    expect(ask('bob', ['sre'], [])).toMatchObject({ outcome: 'deny', rule: 'csr.no-role' });
  });
});

describe("deploy/policy.example.json: the issue's operation matrix", () => {
  const policy = loadPolicy(examplePath);
  const alice = person('alice', ['oncall-payments']);

  it.each([
    ['view-logs', 'approve', undefined, 1800],
    ['view-config', 'approve', undefined, 1800],
    ['exec', 'pending', 1, 1800],
    ['debug', 'pending', 2, 900],
    ['port-forward', 'pending', 1, 3600],
  ] as const)('%s: %s, %s approver(s), at most %i s', (operation, outcome, approvals, max) => {
    const decision = evaluateSshRequest(policy, alice, { operations: [operation], ttlSeconds: 86_400, reason: 'INC-1' }, PLAIN_KEY);
    expect(decision.outcome).toBe(outcome);
    if (decision.outcome === 'deny') return;
    expect(decision.grant.ttlSeconds).toBe(max);
    expect(decision.grant.operations).toEqual([operation]);
    if (decision.outcome === 'pending') expect(decision.approval).toEqual({ approverGroups: ['sre-leads'], approvals });
  });
});

describe("deploy/policy.example.json: the operation matrix on Kubernetes (O values = the operations' groups)", () => {
  const policy = loadPolicy(examplePath);
  const ask = (organizations: string[]) =>
    evaluateCsr(policy, {
      username: 'alice',
      groups: ['oncall-payments'],
      signerName: DEFAULT_JITCA_SIGNER,
      expirationSeconds: 86_400,
      usages: ['client auth', 'digital signature'],
      csr: { subject: { commonName: 'alice', organizations, other: [] }, keyAlgorithm: { kind: 'ed25519' }, requestedExtensions: { all: [] } },
    });

  it.each([
    // view-logs and view-config share the read-only Role: a certificate with its group can do both.
    [['jit:payments:debug-read-only'], ['view-logs', 'view-config'], 'approve', undefined, 1800],
    [['jit:payments:debug-exec'], ['exec'], 'pending', ['sre-leads'], 1800],
    [['jit:payments:debug-portforward'], ['port-forward'], 'pending', ['sre-leads'], 3600],
    [['jit:payments:debug-read-only', 'jit:payments:debug-portforward'], ['view-logs', 'view-config', 'port-forward'], 'pending', ['sre-leads'], 1800],
  ] as const)('O=%j enables %j: %s, capped to %i s', (organizations, operations, outcome, approvers, max) => {
    const decision = ask([...organizations]);
    expect(decision.outcome).toBe(outcome);
    if (decision.outcome !== 'approve' && decision.outcome !== 'pending') return;
    expect(decision.grant).toMatchObject({ organizations, operations, expirationSeconds: max, capped: true });
    if (decision.outcome === 'pending') expect(decision.approverGroups).toEqual(approvers);
  });

  it('debug (two approvers) is refused on the CSR path: an Approved condition is one approval, and the table asks for two', () => {
    expect(ask(['jit:payments:debug-exec', 'jit:payments:debug-ephemeral'])).toMatchObject({ outcome: 'deny', rule: 'csr.two-approvers' });
  });
});
