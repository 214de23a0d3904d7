/**
 * The operation matrix on Kubernetes (issue 15): an operation grant names the groups (client
 * certificate O values) bound to its RBAC Role, and a certificate carries exactly the groups of the
 * operations it enables. Pure decisions only; the API, plugin and controller paths have their own.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_JITCA_SIGNER, KUBE_APISERVER_CLIENT_SIGNER, evaluateCsr, type CsrDecision } from '../../src/policy/csr-evaluate.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { OperationGrant, Role } from '../../src/policy/types.ts';
import { evaluateX509Request, organizationsAsked } from '../../src/policy/x509-evaluate.ts';
import { person, policyOf, role, validPolicyDocument } from './policy-fixtures.ts';

const READ = 'jit:payments:debug-read-only';
const EXEC = 'jit:payments:debug-exec';
const EPHEMERAL = 'jit:payments:debug-ephemeral';
const FORWARD = 'jit:payments:debug-portforward';
const leads = { mode: 'manual' as const, approverGroups: ['payments-leads'] };

/** The table with the groups of deploy/kubernetes/rbac-operation-roles.json. */
const MATRIX: OperationGrant[] = [
  { name: 'view-logs', approval: { mode: 'auto' }, maxTtlSeconds: 1800, kubernetesGroups: [READ] },
  { name: 'view-config', approval: { mode: 'auto' }, maxTtlSeconds: 1800, kubernetesGroups: [READ] },
  { name: 'exec', approval: { ...leads, approvals: 1 }, maxTtlSeconds: 1800, kubernetesGroups: [EXEC] },
  { name: 'debug', approval: { ...leads, approvals: 2 }, maxTtlSeconds: 900, kubernetesGroups: [EXEC, EPHEMERAL] },
  { name: 'port-forward', approval: { ...leads, approvals: 1 }, maxTtlSeconds: 3600, kubernetesGroups: [FORWARD] },
];
const kubernetes = { groups: [READ, EXEC, EPHEMERAL, FORWARD, 'jit:payments:unbound'], maxExpirationSeconds: 3600 };
const matrixRole = role({ name: 'oncall-payments', maxTtlSeconds: 3600, operations: MATRIX, kubernetes });
const policy = policyOf(matrixRole);
const alice = person('alice', ['oncall-payments']);

function csr(organizations: string[], expirationSeconds = 86_400, signerName = DEFAULT_JITCA_SIGNER, roleUsed: Role = matrixRole): CsrDecision {
  return evaluateCsr(policyOf(roleUsed), {
    username: 'alice',
    groups: ['oncall-payments', 'system:authenticated'],
    signerName,
    expirationSeconds,
    usages: ['client auth', 'digital signature'],
    csr: { subject: { commonName: 'alice', organizations, other: [] }, keyAlgorithm: { kind: 'ed25519' }, requestedExtensions: { all: [] } },
  });
}

describe('a CSR on a role whose operations name Kubernetes groups', () => {
  it.each([
    [[READ], ['view-logs', 'view-config'], 'approve', 1800],
    [[EXEC], ['exec'], 'pending', 1800],
    [[FORWARD], ['port-forward'], 'pending', 3600],
    [[FORWARD, READ], ['view-logs', 'view-config', 'port-forward'], 'pending', 1800],
  ])('O=%j enables %j: the strictest decides (%s), the shortest caps (%i s)', (organizations, operations, outcome, max) => {
    const decision = csr(organizations);
    expect(decision.outcome).toBe(outcome);
    if (decision.outcome !== 'approve' && decision.outcome !== 'pending') return;
    expect(decision.grant).toMatchObject({ organizations, operations, expirationSeconds: max, capped: true });
    expect(decision.message).toContain(`for operations ${operations.join(', ')}`);
  });

  it('debug needs two approvers, which an Approved condition cannot show: denied on both signers, naming the rule and where to ask', () => {
    for (const signer of [DEFAULT_JITCA_SIGNER, KUBE_APISERVER_CLIENT_SIGNER]) {
      const decision = csr([EXEC, EPHEMERAL], 600, signer);
      expect(decision).toMatchObject({ outcome: 'deny', rule: 'csr.two-approvers' });
      expect(decision.outcome === 'deny' && decision.message).toMatch(/^csr\.two-approvers: role oncall-payments for operations exec, debug needs two distinct approvers .*jitca ssh-cert, then the gateway/);
    }
  });

  it('the pending message names the strictest operation’s approvers, not the role’s', () => {
    expect(csr([EXEC])).toMatchObject({ outcome: 'pending', approverGroups: ['payments-leads'] });
    expect(matrixRole.approval).toEqual({ mode: 'auto' });
  });

  it.each([
    ['a group of the role that no operation grants', ['jit:payments:unbound']],
    ['a group beside an operation’s', [READ, 'jit:payments:unbound']],
    ['only part of an operation’s groups', [EPHEMERAL]],
    ['no group at all', []],
  ])('refuses %s with rule csr.groups-beyond-operations', (_what, organizations) => {
    const decision = csr(organizations);
    expect(decision).toMatchObject({ outcome: 'deny', rule: 'csr.groups-beyond-operations' });
    expect(decision.outcome === 'deny' && decision.message).toMatch(/^csr\.groups-beyond-operations: .*role oncall-payments \(view-logs: jit:payments:debug-read-only; .*debug: jit:payments:debug-exec\+jit:payments:debug-ephemeral/);
  });

  it('a group outside the role stays csr.groups-not-allowed, as before', () => {
    expect(csr(['jit:other'])).toMatchObject({ outcome: 'deny', rule: 'csr.groups-not-allowed' });
  });

  it('kube-apiserver-client: over the operations’ maximum is denied (it cannot be shortened), within it approved', () => {
    expect(csr([EXEC], 3600, KUBE_APISERVER_CLIENT_SIGNER)).toMatchObject({ outcome: 'deny', rule: 'csr.expiration-over-max' });
    expect(csr([READ], 1800, KUBE_APISERVER_CLIENT_SIGNER)).toMatchObject({ outcome: 'approve', grant: { expirationSeconds: 1800, capped: false } });
  });

  it('a role whose operations name no Kubernetes groups is decided as before the matrix', () => {
    const old = role({ name: 'oncall-payments', maxTtlSeconds: 3600, operations: MATRIX.map(({ kubernetesGroups: _, ...grant }) => grant), kubernetes });
    expect(csr(['jit:payments:unbound'], 86_400, DEFAULT_JITCA_SIGNER, old)).toMatchObject({ outcome: 'approve', grant: { expirationSeconds: 3600 } });
    const decision = csr(['jit:payments:unbound'], 86_400, DEFAULT_JITCA_SIGNER, old);
    expect(decision.outcome === 'approve' && 'operations' in decision.grant).toBe(false);
  });
});

describe('the X.509 API: operations named become the O values', () => {
  const key = { keyAlgorithm: { kind: 'ed25519' as const }, requestedExtensions: { all: [] } };

  it.each([
    [['view-logs'], [READ]],
    [['view-config'], [READ]],
    [['exec'], [EXEC]],
    [['debug'], [EXEC, EPHEMERAL]],
    [['port-forward'], [FORWARD]],
    [['port-forward', 'view-logs'], [READ, FORWARD]],
    [undefined, [READ]],
  ] as const)('%j asks O=%j', (operations, groups) => {
    expect(organizationsAsked(policy, alice, [], operations === undefined ? undefined : [...operations])).toEqual(groups);
  });

  it('refuses operations the role does not grant, unknown ones, a role without Kubernetes operations, and two sources of groups', () => {
    const narrow = role({ name: 'oncall-payments', maxTtlSeconds: 3600, operations: [MATRIX[0]!], kubernetes });
    expect(organizationsAsked(policyOf(narrow), alice, [], ['exec'])).toMatchObject({ rule: 'operations.not-allowed' });
    expect(organizationsAsked(policy, alice, [], ['ssh' as never])).toMatchObject({ rule: 'operations.unknown' });
    const old = role({ name: 'oncall-payments', kubernetes: { groups: [READ] } });
    expect(organizationsAsked(policyOf(old), alice, [], ['view-logs'])).toMatchObject({ rule: 'operations.not-allowed' });
    expect(organizationsAsked(policyOf(old), alice, [])).toEqual([READ]);
    expect(organizationsAsked(policy, alice, [READ], ['view-logs'])).toMatchObject({ rule: 'request.invalid' });
  });

  it('issues the automatic operations and refuses the manual ones (the API cannot wait), naming the rule', () => {
    const ask = (organizations: string[]) =>
      evaluateX509Request(policy, alice, { signerName: DEFAULT_JITCA_SIGNER, organizations, key, ttlSeconds: 86_400, at: new Date() });
    expect(ask([READ])).toMatchObject({ outcome: 'approve', grant: { organizations: [READ], operations: ['view-logs', 'view-config'], expirationSeconds: 1800 } });
    expect(ask([EXEC])).toMatchObject({ outcome: 'deny', rule: 'csr.manual-approval' });
    expect(ask([READ, 'jit:payments:unbound'])).toMatchObject({ outcome: 'deny', rule: 'csr.groups-beyond-operations' });
  });
});

describe('loading kubernetesGroups', () => {
  function load(change: (role: Record<string, unknown>) => void): () => unknown {
    const document = validPolicyDocument();
    change(document.roles[0]!);
    return () => parsePolicy(JSON.stringify(document));
  }
  const grant = { name: 'view-logs', approval: { mode: 'auto' }, maxTtlSeconds: 600 };

  it('loads groups that are the role’s kubernetes.groups', () => {
    const loaded = load((r) => {
      r['kubernetes'] = { groups: [READ] };
      r['operations'] = [{ ...grant, kubernetesGroups: [READ] }];
    })() as { roles: Role[] };
    expect(loaded.roles[0]!.operations?.[0]?.kubernetesGroups).toEqual([READ]);
  });

  it.each([
    ['groups on a role without kubernetes', (r: Record<string, unknown>) => (r['operations'] = [{ ...grant, kubernetesGroups: [READ] }]), '/roles/0/operations/0/kubernetesGroups names Kubernetes groups'],
    [
      'a group the role does not hand out',
      (r: Record<string, unknown>) => {
        r['kubernetes'] = { groups: [READ] };
        r['operations'] = [{ ...grant, kubernetesGroups: [READ, EXEC] }];
      },
      `/roles/0/operations/0/kubernetesGroups/1 is "${EXEC}", which is not in the role's kubernetes.groups`,
    ],
    [
      'an empty list',
      (r: Record<string, unknown>) => {
        r['kubernetes'] = { groups: [READ] };
        r['operations'] = [{ ...grant, kubernetesGroups: [] }];
      },
      'kubernetesGroups',
    ],
  ])('refuses %s', (_what, change, message) => {
    expect(load(change)).toThrow(expect.objectContaining({ code: 'ERR_POLICY_INVALID', message: expect.stringContaining(message) }));
  });
});

describe('working hours on the CSR path, judged when the CSR was made', () => {
  const hours = { days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, start: '09:00', end: '18:00', timeZone: 'Europe/Berlin', onCallGroups: ['payments-oncall'] };
  // Wednesday 2026-12-02: 10:00 and 03:00 in Berlin (UTC+1).
  const inside = new Date('2026-12-02T09:00:00Z');
  const outside = new Date('2026-12-02T02:00:00Z');
  const ask = (workingHours: Role['workingHours'], at: Date | undefined, groups = ['oncall-payments', 'system:authenticated']): CsrDecision =>
    evaluateCsr(policyOf(role({ name: 'oncall-payments', maxTtlSeconds: 3600, operations: MATRIX, kubernetes, workingHours })), {
      username: 'alice',
      groups,
      signerName: DEFAULT_JITCA_SIGNER,
      expirationSeconds: 600,
      usages: ['client auth', 'digital signature'],
      csr: { subject: { commonName: 'alice', organizations: [READ], other: [] }, keyAlgorithm: { kind: 'ed25519' }, requestedExtensions: { all: [] } },
      ...(at === undefined ? {} : { at }),
    });

  it('inside the window an automatic operation is approved as always', () => {
    expect(ask({ ...hours, days: [...hours.days] }, inside)).toMatchObject({ outcome: 'approve', rule: 'csr.allowed' });
  });

  it('outside it, not on-call and no outsideApproval: denied, naming the rule; on-call: approved, saying so', () => {
    const refused = ask({ ...hours, days: [...hours.days] }, outside);
    expect(refused).toMatchObject({ outcome: 'deny', rule: 'csr.working-hours' });
    expect(refused.outcome === 'deny' && refused.message).toMatch(/^csr\.working-hours: outside the working hours of role oncall-payments .* only on-call may request \(payments-oncall\)/);
    const onCall = ask({ ...hours, days: [...hours.days] }, outside, ['oncall-payments', 'payments-oncall']);
    expect(onCall).toMatchObject({ outcome: 'approve' });
    expect(onCall.outcome === 'approve' && onCall.message).toContain('allowed as on-call');
  });

  it('outside it with outsideApproval: the automatic operation becomes manual (one approver) or is refused (two)', () => {
    const one = ask({ ...hours, days: [...hours.days], outsideApproval: { approverGroups: ['payments-leads'], approvals: 1 } }, outside);
    expect(one).toMatchObject({ outcome: 'pending', rule: 'csr.manual-approval', approverGroups: ['payments-leads'] });
    const two = ask({ ...hours, days: [...hours.days], outsideApproval: { approverGroups: ['payments-leads'], approvals: 2 } }, outside);
    expect(two).toMatchObject({ outcome: 'deny', rule: 'csr.two-approvers' });
  });

  it('a CSR without a creation time is judged as outside the window, the stricter reading', () => {
    expect(ask({ ...hours, days: [...hours.days] }, undefined)).toMatchObject({ outcome: 'deny', rule: 'csr.working-hours' });
  });
});
