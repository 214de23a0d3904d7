import { describe, expect, it } from 'vitest';
import { JitcaError, ErrorCodes } from '../../src/errors.ts';
import {
  DEFAULT_JITCA_SIGNER,
  KUBE_APISERVER_CLIENT_SIGNER,
  evaluateCsr,
  type CsrDecision,
  type CsrEvaluationInput,
} from '../../src/policy/csr-evaluate.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { Policy } from '../../src/policy/types.ts';
import { policyOf, role, validPolicyDocument } from './policy-fixtures.ts';

/** jit-debug for payments on-call (seed 001: group jit:oncall:<namespace>), and a manual cluster-read role. */
function k8sPolicy(): Policy {
  return policyOf(
    role({
      name: 'oncall-payments',
      groups: ['oncall-payments'],
      kubernetes: { groups: ['jit:oncall:payments', 'oncall-payments'] },
    }),
    role({
      name: 'rsa-legacy',
      groups: ['legacy-tools'],
      kubernetes: { groups: ['legacy'], allowKeyEncipherment: true, maxExpirationSeconds: 900, signerNames: [DEFAULT_JITCA_SIGNER] },
    }),
    role({
      name: 'cluster-read',
      groups: ['sre'],
      kubernetes: { groups: ['jit:oncall:cluster'] },
      approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 1 },
    }),
  );
}

function input(overrides: Partial<CsrEvaluationInput> = {}, subject: { commonName?: string; organizations?: string[] } = {}): CsrEvaluationInput {
  return {
    username: 'alice',
    groups: ['oncall-payments', 'system:authenticated'],
    signerName: DEFAULT_JITCA_SIGNER,
    expirationSeconds: 1800,
    usages: ['client auth'],
    csr: {
      subject: { commonName: 'alice', organizations: ['jit:oncall:payments'], other: [], ...subject },
      keyAlgorithm: { kind: 'ed25519' },
      requestedExtensions: { all: [] },
    },
    ...overrides,
  };
}

function ruleOf(decision: CsrDecision): string {
  return decision.outcome === 'ignore' ? 'ignore' : decision.rule;
}

describe('evaluateCsr approves what a role allows', () => {
  it('approves the seed CSR (CN=user, O=group, client auth, 1800 s) with exactly that subject', () => {
    const decision = evaluateCsr(k8sPolicy(), input());
    expect(decision).toMatchObject({
      outcome: 'approve',
      rule: 'csr.allowed',
      grant: { role: 'oncall-payments', commonName: 'alice', organizations: ['jit:oncall:payments'], expirationSeconds: 1800, capped: false },
    });
    expect(decision.message).toContain('csr.allowed');
  });

  it('accepts digital signature next to client auth, and P-256 and RSA-2048 keys', () => {
    expect(evaluateCsr(k8sPolicy(), input({ usages: ['digital signature', 'client auth'] })).outcome).toBe('approve');
    const p256 = input();
    p256.csr = { ...p256.csr, keyAlgorithm: { kind: 'ecdsa', curve: 'P-256' } };
    expect(evaluateCsr(k8sPolicy(), p256).outcome).toBe('approve');
    const rsa = input();
    rsa.csr = { ...rsa.csr, keyAlgorithm: { kind: 'rsa', bits: 2048 } };
    expect(evaluateCsr(k8sPolicy(), rsa).outcome).toBe('approve');
  });

  it('gives jitca’s own signer the role maximum when expirationSeconds is absent, and cuts a longer one', () => {
    const { expirationSeconds: _absent, ...withoutExpiration } = input();
    const absent = evaluateCsr(k8sPolicy(), withoutExpiration);
    expect(absent).toMatchObject({ outcome: 'approve', grant: { expirationSeconds: 1800, capped: true } });
    const over = evaluateCsr(k8sPolicy(), input({ expirationSeconds: 7200 }));
    expect(over).toMatchObject({ outcome: 'approve', grant: { expirationSeconds: 1800, capped: true } });
    const shorter = evaluateCsr(k8sPolicy(), input({ expirationSeconds: 600 }));
    expect(shorter).toMatchObject({ outcome: 'approve', grant: { expirationSeconds: 600, capped: false } });
  });

  it('leaves a CSR of a manual-approval role pending for a person', () => {
    const decision = evaluateCsr(k8sPolicy(), input({ username: 'sam', groups: ['sre'] }, { commonName: 'sam', organizations: ['jit:oncall:cluster'] }));
    expect(decision).toMatchObject({ outcome: 'pending', rule: 'csr.manual-approval', approverGroups: ['sre-leads'] });
  });

  it('ignores signers it does not serve', () => {
    expect(evaluateCsr(k8sPolicy(), input({ signerName: 'example.com/other' })).outcome).toBe('ignore');
    expect(evaluateCsr(k8sPolicy(), input({ signerName: 'constructor' })).outcome).toBe('ignore');
    expect(evaluateCsr(k8sPolicy(), input(), { [KUBE_APISERVER_CLIENT_SIGNER]: 'approve' }).outcome).toBe('ignore');
  });
});

describe('evaluateCsr says what jitca’s own signer will not honour', () => {
  function asking(signerName: string): CsrEvaluationInput {
    const request = input({ signerName, expirationSeconds: 7200 });
    request.csr = {
      ...request.csr,
      subject: { ...request.csr.subject, other: [{ type: '2.5.4.11', name: 'OU', value: 'admins' }, { type: '2.5.4.11', name: 'OU', value: 'ops' }, { type: '1.2.3.4', value: 'x' }] },
      requestedExtensions: {
        basicConstraints: { ca: true },
        subjectAltNames: [{ type: 'dns', value: 'kubernetes.default' }],
        all: [
          { oid: '2.5.29.19', critical: true },
          { oid: '2.5.29.17', critical: false },
          { oid: '1.3.6.1.4.1.99999.1', critical: false },
        ],
      },
    };
    return request;
  }

  it('names the capped lifetime, the ignored extensions and the ignored subject attributes in the approval message', () => {
    const decision = evaluateCsr(k8sPolicy(), asking(DEFAULT_JITCA_SIGNER));
    expect(decision).toMatchObject({
      outcome: 'approve',
      rule: 'csr.allowed',
      grant: {
        expirationSeconds: 1800,
        capped: true,
        ignored: { extensions: ['basicConstraints', 'subjectAltName', '1.3.6.1.4.1.99999.1'], subjectAttributes: ['OU', '1.2.3.4'] },
      },
    });
    expect(decision.message).toBe(
      'csr.allowed: role oncall-payments, lifetime 1800 s; expirationSeconds capped to 1800 (role maximum; requested 7200); ' +
        'requested extensions ignored: basicConstraints, subjectAltName, 1.3.6.1.4.1.99999.1; subject attributes ignored: OU, 1.2.3.4',
    );
    expect(decision.message).not.toContain('admins'); // names of what was dropped, never the requester's values
  });

  it('says a lifetime was capped when none was requested, and says nothing when nothing changes', () => {
    const { expirationSeconds: _absent, ...withoutExpiration } = input();
    expect(evaluateCsr(k8sPolicy(), withoutExpiration).message).toContain('expirationSeconds capped to 1800 (role maximum; none requested)');
    const plain = evaluateCsr(k8sPolicy(), input());
    expect(plain.message).toBe('csr.allowed: role oncall-payments, lifetime 1800 s');
    expect(plain).toMatchObject({ grant: { ignored: { extensions: [], subjectAttributes: [] } } });
  });

  it('lists at most 8 names, then how many more', () => {
    const request = input();
    const all = Array.from({ length: 20 }, (_, i) => ({ oid: `1.3.6.1.4.1.99999.${i}`, critical: false }));
    request.csr = { ...request.csr, requestedExtensions: { all } };
    const decision = evaluateCsr(k8sPolicy(), request);
    expect(decision.message).toContain('1.3.6.1.4.1.99999.7 and 12 more');
    expect(decision.message).not.toContain('1.3.6.1.4.1.99999.8');
  });

  it('tells a manual-approval role’s approver the same', () => {
    const request = input({ username: 'sam', groups: ['sre'], expirationSeconds: 7200 }, { commonName: 'sam', organizations: ['jit:oncall:cluster'] });
    expect(evaluateCsr(k8sPolicy(), request)).toMatchObject({ outcome: 'pending', message: expect.stringContaining('expirationSeconds capped to 1800') });
  });
});

describe('evaluateCsr keeps kube-apiserver-client subjects to one CN and the O values', () => {
  function withSubject(subject: { commonName?: string; organizations?: string[]; other?: Array<{ type: string; name?: string; value: string }> }, username = 'alice'): CsrEvaluationInput {
    const request = input({ signerName: KUBE_APISERVER_CLIENT_SIGNER, username });
    request.csr = { ...request.csr, subject: { ...request.csr.subject, ...subject } };
    return request;
  }
  const long = `a${'b'.repeat(64)}`;
  const policy = (): Policy =>
    policyOf(role({ name: 'oncall-payments', groups: ['oncall-payments'], kubernetes: { groups: ['jit:oncall:payments', 'oncall-payments', `g${'x'.repeat(63)}`, `g${'x'.repeat(64)}`] } }));

  it.each<[string, CsrEvaluationInput, string]>([
    ['an OU (kube-controller-manager would copy it)', withSubject({ other: [{ type: '2.5.4.11', name: 'OU', value: 'admins' }] }), 'csr.subject-attributes'],
    ['an attribute jitca has no name for', withSubject({ other: [{ type: '1.2.3.4', value: 'x' }] }), 'csr.subject-attributes'],
    ['a CN over 64 characters', withSubject({ commonName: long }, long), 'csr.subject-too-long'],
    ['an O over 64 characters', withSubject({ organizations: [`g${'x'.repeat(64)}`] }), 'csr.subject-too-long'],
    ['an O twice', withSubject({ organizations: ['jit:oncall:payments', 'oncall-payments', 'jit:oncall:payments'] }), 'csr.subject-too-long'],
  ])('denies %s', (_name, request, rule) => {
    const decision = evaluateCsr(policy(), request);
    expect(decision.outcome).toBe('deny');
    expect(ruleOf(decision)).toBe(rule);
    expect(decision.message.startsWith(`${rule}:`)).toBe(true);
  });

  it('approves a subject of one CN and distinct O values of up to 64 characters', () => {
    const decision = evaluateCsr(policy(), withSubject({ organizations: ['jit:oncall:payments', 'oncall-payments', `g${'x'.repeat(63)}`] }));
    expect(decision).toMatchObject({ outcome: 'approve', grant: { ignored: { extensions: [], subjectAttributes: [] } } });
  });

  it('jitca’s own signer ignores the same OU instead, since it writes CN and O itself', () => {
    const request = { ...withSubject({ other: [{ type: '2.5.4.11', name: 'OU', value: 'admins' }] }), signerName: DEFAULT_JITCA_SIGNER };
    expect(evaluateCsr(policy(), request)).toMatchObject({ outcome: 'approve', message: expect.stringContaining('subject attributes ignored: OU') });
  });
});

describe('evaluateCsr denies, naming the rule', () => {
  const cases: Array<[string, CsrEvaluationInput, string]> = [
    ['CN is someone else', input({}, { commonName: 'root' }), 'csr.cn-mismatch'],
    ['no CN at all', input({}, { commonName: undefined }), 'csr.cn-mismatch'],
    ['O=system:masters', input({}, { organizations: ['jit:oncall:payments', 'system:masters'] }), 'csr.system-group'],
    ['O=System:Masters in another case', input({}, { organizations: ['System:Masters'] }), 'csr.system-group'],
    [
      'a system: user asks for itself',
      input({ username: 'system:serviceaccount:ns:sa', groups: ['oncall-payments'] }, { commonName: 'system:serviceaccount:ns:sa' }),
      'csr.system-user',
    ],
    ['requester in no role', input({ groups: ['marketing', 'system:authenticated'] }), 'csr.no-role'],
    ['an O the role does not allow', input({}, { organizations: ['jit:oncall:ledger'] }), 'csr.groups-not-allowed'],
    ['server auth', input({ usages: ['client auth', 'server auth'] }), 'csr.usages'],
    ['client auth missing', input({ usages: ['digital signature'] }), 'csr.usages'],
    ['key encipherment without the role allowing it', input({ usages: ['client auth', 'key encipherment'] }), 'csr.usages'],
    ['a usage twice', input({ usages: ['client auth', 'client auth'] }), 'csr.usages'],
    ['over max for kube-apiserver-client', input({ signerName: KUBE_APISERVER_CLIENT_SIGNER, expirationSeconds: 3600 }), 'csr.expiration-over-max'],
  ];
  it.each(cases)('%s', (_name, request, rule) => {
    const decision = evaluateCsr(k8sPolicy(), request);
    expect(decision.outcome).toBe('deny');
    expect(ruleOf(decision)).toBe(rule);
    expect(decision.message.startsWith(`${rule}:`)).toBe(true);
  });

  it('denies kube-apiserver-client CSRs without expirationSeconds (the cluster would sign for a year)', () => {
    const { expirationSeconds: _absent, ...request } = input({ signerName: KUBE_APISERVER_CLIENT_SIGNER });
    expect(ruleOf(evaluateCsr(k8sPolicy(), request))).toBe('csr.expiration-over-max');
    expect(evaluateCsr(k8sPolicy(), input({ signerName: KUBE_APISERVER_CLIENT_SIGNER, expirationSeconds: 1800 })).outcome).toBe('approve');
  });

  it('denies subjectAltNames for kube-apiserver-client (kube-controller-manager would copy them); jitca’s signer ignores them', () => {
    const withNames = (signerName: string): CsrEvaluationInput => {
      const request = input({ signerName });
      request.csr = {
        ...request.csr,
        requestedExtensions: {
          subjectAltNames: [
            { type: 'dns', value: 'kubernetes.default' },
            { type: 'uri', value: 'spiffe://cluster/ns/payments/sa/admin' },
          ],
          all: [{ oid: '2.5.29.17', critical: false }],
        },
      };
      return request;
    };
    const denied = evaluateCsr(k8sPolicy(), withNames(KUBE_APISERVER_CLIENT_SIGNER));
    expect(ruleOf(denied)).toBe('csr.subject-alt-names');
    expect(denied.message).toContain('dns, uri');
    expect(evaluateCsr(k8sPolicy(), withNames(DEFAULT_JITCA_SIGNER))).toMatchObject({ outcome: 'approve', grant: { commonName: 'alice', organizations: ['jit:oncall:payments'] } });
    // Other requested extensions are not copied by kube-controller-manager: no reason to deny.
    const basic = input({ signerName: KUBE_APISERVER_CLIENT_SIGNER });
    basic.csr = { ...basic.csr, requestedExtensions: { basicConstraints: { ca: true }, all: [{ oid: '2.5.29.19', critical: true }] } };
    expect(evaluateCsr(k8sPolicy(), basic).outcome).toBe('approve');
  });

  it('denies key types other than Ed25519, P-256/P-384 and RSA >= 2048', () => {
    for (const keyAlgorithm of [{ kind: 'rsa', bits: 1024 }, { kind: 'ecdsa', curve: 'P-521' }] as const) {
      const request = input();
      request.csr = { ...request.csr, keyAlgorithm: keyAlgorithm as never };
      expect(ruleOf(evaluateCsr(k8sPolicy(), request))).toBe('csr.key');
    }
  });

  it('never lets a system: requester group open a role, even one that names it', () => {
    const policy = policyOf(role({ name: 'bad', groups: ['system:authenticated'], kubernetes: { groups: ['jit:oncall:payments'] } }));
    expect(ruleOf(evaluateCsr(policy, input({ groups: ['system:authenticated', 'system:masters'] })))).toBe('csr.no-role');
  });

  it('needs one role that allows every O, not a union of roles', () => {
    const policy = policyOf(
      role({ name: 'a', groups: ['oncall-payments'], kubernetes: { groups: ['jit:oncall:payments'] } }),
      role({ name: 'b', groups: ['oncall-payments'], kubernetes: { groups: ['jit:oncall:ledger'] } }),
    );
    const decision = evaluateCsr(policy, input({}, { organizations: ['jit:oncall:payments', 'jit:oncall:ledger'] }));
    expect(ruleOf(decision)).toBe('csr.groups-not-allowed');
  });

  it('keeps a role to its signerNames and its key-encipherment allowance', () => {
    const legacy = input({ username: 'lee', groups: ['legacy-tools'], usages: ['client auth', 'key encipherment'] }, { commonName: 'lee', organizations: ['legacy'] });
    expect(evaluateCsr(k8sPolicy(), legacy)).toMatchObject({ outcome: 'approve', grant: { expirationSeconds: 900, capped: true } });
    expect(ruleOf(evaluateCsr(k8sPolicy(), { ...legacy, signerName: KUBE_APISERVER_CLIENT_SIGNER }))).toBe('csr.no-role');
  });

  it('quotes and shortens requester-controlled text in messages', () => {
    const decision = evaluateCsr(k8sPolicy(), input({}, { commonName: `x${'y'.repeat(500)}\n` }));
    expect(decision.message.length).toBeLessThan(400);
    expect(decision.message).not.toContain('\n');
  });
});

describe('policy files with Kubernetes roles', () => {
  function withKubernetes(kubernetes: unknown): string {
    const document = validPolicyDocument();
    document.roles[0]!['kubernetes'] = kubernetes;
    return JSON.stringify(document);
  }

  it('loads a role with kubernetes groups, maximum, signers', () => {
    const policy = parsePolicy(withKubernetes({ groups: ['jit:oncall:payments'], maxExpirationSeconds: 1200, signerNames: [DEFAULT_JITCA_SIGNER] }));
    expect(policy.roles[0]?.kubernetes).toEqual({ groups: ['jit:oncall:payments'], maxExpirationSeconds: 1200, signerNames: [DEFAULT_JITCA_SIGNER] });
  });

  it.each([
    ['a system: group', { groups: ['system:masters'] }],
    ['a maximum under the apiserver minimum of 600 s', { groups: ['g'], maxExpirationSeconds: 300 }],
    ['a malformed signerName', { groups: ['g'], signerNames: ['not a signer'] }],
    ['an unknown field', { groups: ['g'], serverAuth: true }],
  ])('refuses %s', (_name, kubernetes) => {
    let error: unknown;
    try {
      parsePolicy(withKubernetes(kubernetes));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(JitcaError);
    expect((error as JitcaError).code).toBe(ErrorCodes.POLICY_INVALID);
  });
});

describe('evaluateCsr decides the scope of a certificate from jitca\'s signer', () => {
  it('with a scopeCluster: the role\'s only namespace, "*" for a role spanning several; none for approve-only signers or without a cluster', () => {
    const policy = policyOf(
      role({ name: 'one-namespace', groups: ['oncall-payments'], kubernetes: { groups: ['jit:oncall:payments'] } }),
      role({ name: 'every-namespace', groups: ['sre'], scope: { clusters: ['prod'], namespaces: ['*'] }, kubernetes: { groups: ['jit:oncall:cluster'] } }),
    );
    const scoped = evaluateCsr(policy, input({ scopeCluster: 'prod' }));
    expect(scoped).toMatchObject({ outcome: 'approve', grant: { role: 'one-namespace', scope: { cluster: 'prod', namespace: 'payments' } } });
    const wide = evaluateCsr(policy, input({ scopeCluster: 'prod', groups: ['sre'] }, { organizations: ['jit:oncall:cluster'] }));
    expect(wide).toMatchObject({ outcome: 'approve', grant: { role: 'every-namespace', scope: { cluster: 'prod', namespace: '*' } } });
    const approveOnly = evaluateCsr(policy, input({ scopeCluster: 'prod', signerName: KUBE_APISERVER_CLIENT_SIGNER }));
    expect(approveOnly.outcome === 'approve' && approveOnly.grant.scope).toBe(undefined);
    const unscoped = evaluateCsr(policy, input());
    expect(unscoped.outcome === 'approve' && unscoped.grant.scope).toBe(undefined);
  });
});
