import { describe, expect, it } from 'vitest';
import { evaluateSshRequest } from '../../src/policy/evaluate.ts';
import type { Decision, SshCertificateRequest, SshGrant } from '../../src/policy/types.ts';
import { FIDO_KEY, PLAIN_KEY, person, policyOf, role } from './policy-fixtures.ts';

const oncall = role({
  name: 'oncall-payments',
  groups: ['oncall-payments'],
  principals: ['oncall-payments', 'payments-readonly'],
  maxTtlSeconds: 1800,
  defaultTtlSeconds: 900,
  scope: { clusters: ['prod'], namespaces: ['payments'], pods: ['*'] },
  commands: ['kubectl logs', 'kubectl exec', 'curl localhost:8080/debug/pprof'],
  sourceAddresses: ['10.40.0.0/16', '2001:db8:40::/48'],
  allowGateway: true,
});
const breakGlass = role({
  name: 'break-glass',
  groups: ['sre'],
  principals: ['break-glass'],
  maxTtlSeconds: 900,
  defaultTtlSeconds: 900,
  ttlOverMax: 'deny',
  scope: { clusters: ['prod', 'staging'], namespaces: ['*'], nodes: ['node-a', 'node-b'] },
  extensions: ['permit-pty', 'permit-port-forwarding'],
  approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 2 },
});
const pinned = role({
  name: 'pinned-pod',
  groups: ['pinned'],
  principals: ['pinned'],
  scope: { clusters: ['prod'], namespaces: ['payments'], pods: ['payments-api-0', 'payments-api-1'] },
  forceCommand: 'kubectl logs',
  commands: ['kubectl logs', 'kubectl exec'],
});
const open = role({
  name: 'open-commands',
  groups: ['open', 'sre'],
  principals: ['open'],
  scope: { clusters: ['*'], namespaces: ['*'] },
});
const policy = policyOf(oncall, breakGlass, pinned, open);

const alice = person('alice', ['oncall-payments']);
const bob = person('bob', ['sre']);

function evaluate(request: SshCertificateRequest, identity = alice, key = PLAIN_KEY): Decision {
  return evaluateSshRequest(policy, identity, request, key);
}

function granted(decision: Decision): SshGrant {
  if (decision.outcome === 'deny') throw new Error(`denied: ${decision.rule}: ${decision.message}`);
  return decision.grant;
}

function denial(decision: Decision): { rule: string; message: string } {
  if (decision.outcome !== 'deny') throw new Error(`expected a denial, got ${decision.outcome}`);
  return { rule: decision.rule, message: decision.message };
}

describe('a request that names nothing gets the role defaults', () => {
  it('auto-approves with every principal, the default ttl, the only cluster and namespace and all commands', () => {
    const decision = evaluate({});
    expect(decision.outcome).toBe('approve');
    expect(granted(decision)).toEqual({
      role: 'oncall-payments',
      principals: ['oncall-payments', 'payments-readonly'],
      ttlSeconds: 900,
      scope: { cluster: 'prod', namespace: 'payments' },
      commands: ['kubectl logs', 'kubectl exec', 'curl localhost:8080/debug/pprof'],
      sourceAddresses: ['10.40.0.0/16', '2001:db8:40::/48'],
      extensions: ['permit-pty'],
      verifyRequired: false,
    });
  });

  it('a manual role is pending with its approver groups and approval count', () => {
    const decision = evaluate({ role: 'break-glass', scope: { cluster: 'prod', namespace: 'payments', node: 'node-a' } }, bob);
    expect(decision).toMatchObject({
      outcome: 'pending',
      approval: { approverGroups: ['sre-leads'], approvals: 2 },
      grant: { role: 'break-glass', ttlSeconds: 900, extensions: ['permit-pty', 'permit-port-forwarding'] },
    });
  });

  it('copies forceCommand into the grant', () => {
    const decision = evaluate({ scope: { pod: 'payments-api-0' } }, person('carol', ['pinned']));
    expect(granted(decision).forceCommand).toBe('kubectl logs');
  });
});

describe('narrowing works', () => {
  it('asks for fewer principals, a shorter ttl, fewer commands, a pod and a smaller network', () => {
    const grant = granted(
      evaluate({
        principals: ['payments-readonly'],
        ttlSeconds: 300,
        scope: { cluster: 'prod', namespace: 'payments', pod: 'payments-api-7d9f' },
        commands: ['kubectl logs'],
        sourceAddresses: ['10.40.7.0/24'],
        reason: 'INC-4242: p99 latency\nlooking at pprof',
      }),
    );
    expect(grant).toMatchObject({
      principals: ['payments-readonly'],
      ttlSeconds: 300,
      scope: { cluster: 'prod', namespace: 'payments', pod: 'payments-api-7d9f' },
      commands: ['kubectl logs'],
      sourceAddresses: ['10.40.7.0/24'],
    });
  });

  it('a role without a command list keeps the commands the request narrowed to', () => {
    const grant = granted(evaluate({ commands: ['kubectl get pods'], scope: { cluster: 'c1', namespace: 'n1' } }, person('dan', ['open'])));
    expect(grant.commands).toEqual(['kubectl get pods']);
    expect(granted(evaluate({ scope: { cluster: 'c1', namespace: 'n1' } }, person('dan', ['open']))).commands).toBeUndefined();
  });

  it('a role without source addresses keeps the ones the request narrowed to', () => {
    const grant = granted(evaluate({ sourceAddresses: ['192.0.2.0/24'], scope: { cluster: 'c1', namespace: 'n1' } }, person('dan', ['open'])));
    expect(grant.sourceAddresses).toEqual(['192.0.2.0/24']);
  });

  it('the grant does not share arrays with the policy', () => {
    const grant = granted(evaluate({}));
    grant.principals.push('root');
    grant.commands?.push('bash');
    expect(oncall.principals).toEqual(['oncall-payments', 'payments-readonly']);
    expect(oncall.commands).toHaveLength(3);
  });
});

describe('ttl over the maximum', () => {
  it('is capped with a note when the role says cap', () => {
    const decision = evaluate({ ttlSeconds: 7200 });
    expect(granted(decision).ttlSeconds).toBe(1800);
    expect(decision.outcome !== 'deny' && decision.notes.some((note) => note.includes('7200s'))).toBe(true);
  });

  it('is denied (rule ttl.max) when the role says deny, naming what was asked and what is allowed', () => {
    const { rule, message } = denial(evaluate({ role: 'break-glass', ttlSeconds: 901, scope: { cluster: 'prod', namespace: 'x' } }, bob));
    expect(rule).toBe('ttl.max');
    expect(message).toContain('901s');
    expect(message).toContain('900s');
    expect(message).toContain('break-glass');
  });

  it('exactly the maximum is fine', () => {
    expect(granted(evaluate({ role: 'break-glass', ttlSeconds: 900, scope: { cluster: 'prod', namespace: 'x', node: 'node-b' } }, bob)).ttlSeconds).toBe(900);
  });
});

describe('each deny rule', () => {
  const cases: [string, SshCertificateRequest, string, ReturnType<typeof person>?][] = [
    ['unknown role', { role: 'cluster-admin' }, 'role.unknown'],
    ['role the identity has no group for', { role: 'break-glass' }, 'role.groups'],
    ['no role open to the identity', {}, 'role.none', person('eve', ['marketing'])],
    ['several roles open and none named', {}, 'role.ambiguous', bob],
    ['gateway on a role that refuses it', { role: 'break-glass', scope: { cluster: 'prod', namespace: 'x' } }, 'role.gateway', person('bob', ['sre'], 'gateway')],
    ['principal outside the role', { principals: ['oncall-payments', 'root'] }, 'principals.not-allowed'],
    ['zero ttl', { ttlSeconds: 0 }, 'ttl.invalid'],
    ['negative ttl', { ttlSeconds: -60 }, 'ttl.invalid'],
    ['fractional ttl', { ttlSeconds: 90.5 }, 'ttl.invalid'],
    ['NaN ttl', { ttlSeconds: Number.NaN }, 'ttl.invalid'],
    ['infinite ttl', { ttlSeconds: Number.POSITIVE_INFINITY }, 'ttl.invalid'],
    ['other cluster', { scope: { cluster: 'staging' } }, 'scope.cluster'],
    ['cluster required when the role allows several', { role: 'break-glass', scope: { namespace: 'x' } }, 'scope.cluster', bob],
    ['other namespace', { scope: { namespace: 'kube-system' } }, 'scope.namespace'],
    ['namespace required when the role allows any', { role: 'break-glass', scope: { cluster: 'prod' } }, 'scope.namespace', bob],
    ['pod on a role without pods', { role: 'break-glass', scope: { cluster: 'prod', namespace: 'x', pod: 'p' } }, 'scope.pod', bob],
    ['pod outside the role list', { scope: { pod: 'payments-api-9' } }, 'scope.pod', person('carol', ['pinned'])],
    ['pod required when the role lists several', {}, 'scope.pod', person('carol', ['pinned'])],
    ['node outside the role list', { role: 'break-glass', scope: { cluster: 'prod', namespace: 'x', node: 'node-z' } }, 'scope.node', bob],
    ['node required when the role lists several', { role: 'break-glass', scope: { cluster: 'prod', namespace: 'x' } }, 'scope.node', bob],
    ['node on a role without nodes', { scope: { node: 'node-a' } }, 'scope.node'],
    ['command outside the role', { commands: ['kubectl logs', 'kubectl delete namespace payments'] }, 'commands.not-allowed'],
    ['commands that leave out the forced command', { commands: ['kubectl exec'], scope: { pod: 'payments-api-0' } }, 'commands.not-allowed', person('carol', ['pinned'])],
    ['source address outside the role', { sourceAddresses: ['10.40.0.0/16', '10.41.0.0/24'] }, 'source-address.not-allowed'],
    ['source address wider than the role', { sourceAddresses: ['10.0.0.0/8'] }, 'source-address.not-allowed'],
    ['IPv4-mapped address against IPv4 networks', { sourceAddresses: ['::ffff:10.40.0.0/112'] }, 'source-address.not-allowed'],
  ];

  it.each(cases)('%s -> %s', (_name, request, rule, identity = alice) => {
    expect(denial(evaluate(request, identity)).rule).toBe(rule);
  });

  it('gateway requests are fine on a role that allows them', () => {
    expect(evaluate({}, person('alice', ['oncall-payments'], 'gateway')).outcome).toBe('approve');
  });

  it('messages name the offending value and what is allowed', () => {
    expect(denial(evaluate({ principals: ['root'] })).message).toMatch(/"root".*oncall-payments, payments-readonly/);
    expect(denial(evaluate({}, bob)).message).toMatch(/break-glass, open-commands/);
    expect(denial(evaluate({ scope: { namespace: 'kube-system' } })).message).toMatch(/"kube-system".*payments/);
    expect(denial(evaluate({ role: 'nope' })).message).toContain('oncall-payments');
  });
});

describe('verify-required (sshd enforces it only for FIDO security keys)', () => {
  const fido = role({ name: 'fido-only', groups: ['fido'], verifyRequired: true });
  const fidoPolicy = policyOf(fido);
  const dana = person('dana', ['fido']);

  it('certifies a security key with verify-required in the grant', () => {
    const decision = evaluateSshRequest(fidoPolicy, dana, {}, FIDO_KEY);
    expect(decision.outcome).toBe('approve');
    expect(granted(decision).verifyRequired).toBe(true);
  });

  it('refuses a plain key (rule key.verify-required), naming the key type and what is needed', () => {
    // sshd would accept this certificate without any user verification: the option would be void.
    for (const type of ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa']) {
      const { rule, message } = denial(evaluateSshRequest(fidoPolicy, dana, {}, { type, isSecurityKey: false }));
      expect(rule).toBe('key.verify-required');
      expect(message).toContain(type);
      expect(message).toContain('sk-ssh-ed25519@openssh.com');
    }
  });

  it('a role without verifyRequired takes either kind of key', () => {
    expect(evaluate({}, alice, PLAIN_KEY).outcome).toBe('approve');
    expect(evaluate({}, alice, FIDO_KEY).outcome).toBe('approve');
  });
});

describe('malformed requests are denied as request.invalid', () => {
  const cases: [string, unknown][] = [
    ['not an object', 'role=oncall-payments'],
    ['null', null],
    ['unknown field', { principal: ['root'] }],
    ['role not a string', { role: 7 }],
    ['role with odd characters', { role: 'oncall payments' }],
    ['empty principal list (valid for every user in OpenSSH)', { principals: [] }],
    ['principal with a comma', { principals: ['oncall-payments,root'] }],
    ['principal with a newline', { principals: ['oncall-payments\nroot'] }],
    ['principal with NUL', { principals: ['oncall-payments\u0000'] }],
    ['empty principal', { principals: [''] }],
    ['principal not a string', { principals: [42] }],
    ['principals not a list', { principals: 'oncall-payments' }],
    ['repeated principal', { principals: ['oncall-payments', 'oncall-payments'] }],
    ['33 principals', { principals: Array.from({ length: 33 }, (_, i) => `p${i}`) }],
    ['overlong principal', { principals: ['p'.repeat(257)] }],
    ['ttl as text', { ttlSeconds: '1800' }],
    ['scope not an object', { scope: 'prod/payments' }],
    ['unknown scope field', { scope: { cluster: 'prod', region: 'eu' } }],
    ['wildcard asked for', { scope: { namespace: '*' } }],
    ['namespace with a slash', { scope: { namespace: 'payments/../kube-system' } }],
    ['empty command list', { commands: [] }],
    ['command with a newline', { commands: ['kubectl logs\nrm -rf /'] }],
    ['33 commands', { commands: Array.from({ length: 33 }, (_, i) => `c${i}`) }],
    ['bad CIDR', { sourceAddresses: ['10.40.0.1/16'] }],
    ['bare address', { sourceAddresses: ['10.40.0.1'] }],
    ['empty source list', { sourceAddresses: [] }],
    ['reason with NUL', { reason: 'because\u0000' }],
    ['reason too long', { reason: 'x'.repeat(1025) }],
  ];

  it.each(cases)('%s', (_name, request) => {
    expect(denial(evaluateSshRequest(policy, alice, request as SshCertificateRequest, PLAIN_KEY)).rule).toBe('request.invalid');
  });

  it('never echoes control characters back', () => {
    const { message } = denial(evaluate({ principals: ['x\u001b[31m'] }));
    expect(message).not.toMatch(/[\u0000-\u001f]/);
  });
});

describe('evaluate is pure', () => {
  it('does not change the policy or the request', () => {
    const before = JSON.stringify(policy);
    const request: SshCertificateRequest = { ttlSeconds: 7200, principals: ['oncall-payments'] };
    const requestBefore = JSON.stringify(request);
    evaluate(request);
    evaluate({ role: 'break-glass', scope: { cluster: 'prod', namespace: 'x', node: 'node-a' } }, bob);
    expect(JSON.stringify(policy)).toBe(before);
    expect(JSON.stringify(request)).toBe(requestBefore);
  });

  it('same input, same decision', () => {
    expect(evaluate({ ttlSeconds: 7200 })).toEqual(evaluate({ ttlSeconds: 7200 }));
  });
});
