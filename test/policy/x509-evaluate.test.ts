import { describe, expect, it } from 'vitest';
import { evaluateX509Request, organizationsAsked, type X509RequestInput } from '../../src/policy/x509-evaluate.ts';
import { DEFAULT_JITCA_SIGNER } from '../../src/policy/csr-evaluate.ts';
import { person, policyOf, role } from './policy-fixtures.ts';

const policy = policyOf(
  role({ name: 'oncall-payments', groups: ['oncall-payments'], allowGateway: true, kubernetes: { groups: ['jit:oncall:payments'] } }),
  role({ name: 'direct-only', groups: ['direct'], scope: { clusters: ['prod'], namespaces: ['*'] }, kubernetes: { groups: ['jit:direct'] } }),
  role({
    name: 'cluster-read',
    groups: ['sre'],
    kubernetes: { groups: ['jit:oncall:cluster'] },
    approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 1 },
  }),
);

function input(overrides: Partial<X509RequestInput> = {}): X509RequestInput {
  return {
    signerName: DEFAULT_JITCA_SIGNER,
    organizations: ['jit:oncall:payments'],
    key: { keyAlgorithm: { kind: 'ed25519' }, requestedExtensions: { all: [] } },
    at: new Date(),
    ...overrides,
  };
}

describe('evaluateX509Request: every refusal of the X.509 API is decided here, once', () => {
  const alice = person('alice', ['oncall-payments']);

  it('approves with the resolved scope when a full scope is asked, and with none for a cluster named alone', () => {
    expect(evaluateX509Request(policy, alice, input({ scope: { cluster: 'prod', namespace: 'payments' } }))).toMatchObject({
      outcome: 'approve',
      grant: { role: 'oncall-payments', commonName: 'alice', organizations: ['jit:oncall:payments'] },
      scope: { cluster: 'prod', namespace: 'payments' },
    });
    const clusterOnly = evaluateX509Request(policy, alice, input({ scope: { cluster: 'prod' } }));
    expect(clusterOnly.outcome).toBe('approve');
    expect(clusterOnly.outcome === 'approve' && clusterOnly.scope).toBe(undefined);
  });

  it('refuses by rule: the CSR rules, the gateway, manual approval, the scope and its shape', () => {
    const cases: Array<[ReturnType<typeof evaluateX509Request>, string]> = [
      [evaluateX509Request(policy, alice, input({ organizations: ['jit:other'] })), 'csr.groups-not-allowed'],
      [evaluateX509Request(policy, person('dee', ['direct'], 'gateway'), input({ organizations: ['jit:direct'] })), 'role.gateway'],
      [evaluateX509Request(policy, person('sam', ['sre']), input({ organizations: ['jit:oncall:cluster'] })), 'csr.manual-approval'],
      [evaluateX509Request(policy, alice, input({ scope: { cluster: 'dev' } })), 'scope.cluster'],
      [evaluateX509Request(policy, alice, input({ scope: { cluster: 'prod', namespace: 'billing' } })), 'scope.namespace'],
      [evaluateX509Request(policy, person('dee', ['direct']), input({ organizations: ['jit:direct'], scope: { cluster: 'prod', namespace: 'not a name' } })), 'request.invalid'],
    ];
    for (const [decision, rule] of cases) expect(decision).toMatchObject({ outcome: 'deny', rule });
  });

  it('a gateway may ask where the role allows it', () => {
    expect(evaluateX509Request(policy, person('alice', ['oncall-payments'], 'gateway'), input()).outcome).toBe('approve');
  });

  it('without O values in the CSR, asks for the groups of the role that approves by itself', () => {
    expect(organizationsAsked(policy, person('both', ['sre', 'oncall-payments']), [])).toEqual(['jit:oncall:payments']);
    expect(organizationsAsked(policy, alice, ['jit:x'])).toEqual(['jit:x']);
    expect(organizationsAsked(policy, person('nobody', []), [])).toEqual([]);
  });
});
