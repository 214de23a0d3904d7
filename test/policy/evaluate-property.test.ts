import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrWithinAny } from '../../src/policy/cidr.ts';
import { evaluateSshRequest } from '../../src/policy/evaluate.ts';
import type { Identity, Role, SshCertificateRequest } from '../../src/policy/types.ts';
import { FIDO_KEY, PLAIN_KEY, policyOf, role } from './policy-fixtures.ts';

/** Roles covering every shape: fixed and wildcard scopes, pods/nodes lists, commands or not, cap or deny. */
const policy = policyOf(
  role({
    name: 'oncall-payments',
    groups: ['oncall-payments'],
    principals: ['oncall-payments', 'payments-readonly'],
    maxTtlSeconds: 1800,
    defaultTtlSeconds: 900,
    scope: { clusters: ['prod'], namespaces: ['payments'], pods: ['*'] },
    commands: ['kubectl logs', 'kubectl exec'],
    sourceAddresses: ['10.40.0.0/16'],
    allowGateway: true,
  }),
  role({
    name: 'pinned',
    groups: ['pinned', 'oncall-payments'],
    principals: ['pinned'],
    maxTtlSeconds: 600,
    defaultTtlSeconds: 600,
    ttlOverMax: 'deny',
    scope: { clusters: ['prod', 'staging'], namespaces: ['payments', 'checkout'], pods: ['api-0', 'api-1'], nodes: ['node-a'] },
    commands: ['kubectl logs', 'kubectl exec'],
    forceCommand: 'kubectl logs',
  }),
  role({
    name: 'break-glass',
    groups: ['sre'],
    principals: ['break-glass', 'root-debug'],
    maxTtlSeconds: 900,
    defaultTtlSeconds: 900,
    ttlOverMax: 'deny',
    scope: { clusters: ['*'], namespaces: ['*'], nodes: ['*'] },
    sourceAddresses: ['10.40.0.0/16', '2001:db8:40::/48'],
    verifyRequired: true,
    approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 2 },
  }),
  role({
    name: 'open',
    groups: ['open'],
    principals: ['open'],
    scope: { clusters: ['*'], namespaces: ['*'] },
    allowGateway: true,
  }),
);

const groups = ['oncall-payments', 'pinned', 'sre', 'open', 'sre-leads', 'marketing', 'system:masters'];
const principals = ['oncall-payments', 'payments-readonly', 'pinned', 'break-glass', 'root-debug', 'open', 'root', 'admin'];
const clusters = ['prod', 'staging', 'dev', '*'];
const namespaces = ['payments', 'checkout', 'kube-system', '*'];
const pods = ['api-0', 'api-1', 'api-9', 'payments-api-7d9f'];
const nodes = ['node-a', 'node-b'];
const commands = ['kubectl logs', 'kubectl exec', 'kubectl delete namespace payments', 'bash', 'curl localhost:8080/debug/pprof'];
const cidrs = ['10.40.0.0/16', '10.40.7.0/24', '10.40.7.9/32', '10.0.0.0/8', '0.0.0.0/0', '192.0.2.0/24', '2001:db8:40:1::/64', '2001:db8::/32', '::/0', '10.40.0.1/16'];

/** Sometimes left out (take the role default), otherwise one of the given values. */
function maybe<T>(arbitrary: fc.Arbitrary<T>, leftOutOneIn = 4): fc.Arbitrary<T | undefined> {
  return fc.option(arbitrary, { nil: undefined, freq: leftOutOneIn });
}

/** Mostly values the role itself lists (so many requests pass), sometimes anything from the pool. */
function near(own: readonly string[] | undefined, pool: readonly string[]): fc.Arbitrary<string> {
  const mine = (own ?? []).filter((value) => value !== '*');
  const concrete = pool.filter((value) => value !== '*');
  return mine.length === 0
    ? fc.constantFrom(...concrete)
    : fc.oneof({ arbitrary: fc.constantFrom(...mine), weight: 9 }, { arbitrary: fc.constantFrom(...concrete), weight: 1 });
}

/** Pod and node: usually asked for when the role lists them, rarely when it does not. */
function narrowing(own: readonly string[] | undefined, pool: readonly string[]): fc.Arbitrary<string | undefined> {
  const asked = own === undefined ? 1 : 4;
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 5 - asked }, { arbitrary: near(own, pool), weight: asked });
}

function nearList(own: readonly string[] | undefined, pool: readonly string[]): fc.Arbitrary<string[]> {
  return fc.uniqueArray(near(own, pool), { minLength: 1, maxLength: 3 });
}

/** An identity and a request aimed at one role: the interesting cases sit right at its edges. */
const aimed: fc.Arbitrary<[Identity, SshCertificateRequest]> = fc.constantFrom(...policy.roles).chain((target) =>
  fc.tuple(
    fc.record({
      subject: fc.constantFrom('alice', 'bob'),
      groups: fc
        .tuple(fc.constantFrom(...target.groups), fc.oneof(fc.constant([]), fc.subarray(groups)))
        .map(([own, more]) => [own, ...more]),
      via: fc.constantFrom<Identity['via']>('oidc', 'oidc', 'local-cli', 'local-cli', 'gateway'),
    }),
    fc
      .record({
        role: fc.option(fc.oneof({ arbitrary: fc.constant(target.name), weight: 9 }, { arbitrary: fc.constant('cluster-admin'), weight: 1 }), {
          nil: undefined,
        }),
        principals: maybe(nearList(target.principals, principals)),
        ttlSeconds: maybe(
          fc.oneof(
            { arbitrary: fc.integer({ min: 1, max: target.maxTtlSeconds * 2 }), weight: 8 },
            { arbitrary: fc.constantFrom(-10, 0, 0.5, 1e300, Number.NaN, Number.MAX_SAFE_INTEGER + 2), weight: 1 },
          ),
        ),
        scope: maybe(
          fc.record({
            cluster: maybe(near(target.scope.clusters, clusters), 10),
            namespace: maybe(near(target.scope.namespaces, namespaces), 10),
            pod: narrowing(target.scope.pods, pods),
            node: narrowing(target.scope.nodes, nodes),
          }),
          12,
        ),
        commands: maybe(nearList(target.commands, commands)),
        sourceAddresses: maybe(nearList(target.sourceAddresses, cidrs.filter((cidr) => cidr !== '10.40.0.1/16'))),
      })
      .map(withoutUndefined),
  ),
);

/** Anything from the pools, for requests aimed at no role in particular. */
const scattered: fc.Arbitrary<[Identity, SshCertificateRequest]> = fc.tuple(
  fc.record({
    subject: fc.constantFrom('alice', 'bob'),
    groups: fc.subarray(groups),
    via: fc.constantFrom<Identity['via']>('oidc', 'local-cli', 'gateway'),
  }),
  fc.record(
    {
      role: fc.constantFrom('oncall-payments', 'pinned', 'break-glass', 'open', 'cluster-admin'),
      principals: fc.uniqueArray(fc.constantFrom(...principals), { maxLength: 4 }),
      ttlSeconds: fc.oneof(fc.integer({ min: -10, max: 100_000 }), fc.constantFrom(0, 0.5, 1e300, Number.NaN)),
      scope: fc.record(
        {
          cluster: fc.constantFrom(...clusters),
          namespace: fc.constantFrom(...namespaces),
          pod: fc.constantFrom(...pods),
          node: fc.constantFrom(...nodes),
        },
        { requiredKeys: [] },
      ),
      commands: fc.uniqueArray(fc.constantFrom(...commands), { maxLength: 3 }),
      sourceAddresses: fc.uniqueArray(fc.constantFrom(...cidrs), { maxLength: 3 }),
    },
    { requiredKeys: [] },
  ),
);

function withoutUndefined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner === undefined) continue;
    out[key] = inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? withoutUndefined(inner) : inner;
  }
  return out as T;
}

const identity = fc.record({
  subject: fc.constantFrom('alice', 'bob'),
  groups: fc.subarray(groups),
  via: fc.constantFrom<Identity['via']>('oidc', 'local-cli', 'gateway'),
});

const subjectKey = fc.constantFrom(PLAIN_KEY, FIDO_KEY);

const KNOWN_FIELDS = ['role', 'principals', 'ttlSeconds', 'scope', 'commands', 'sourceAddresses', 'reason'];

function allows(list: readonly string[], value: string): boolean {
  return list.includes('*') || list.includes(value);
}

describe('widening never works', () => {
  it('every approved or pending grant lies inside the role it names', () => {
    const outcomes = { approve: 0, pending: 0, deny: 0 };
    const rules = new Set<string>();
    fc.assert(
      fc.property(fc.oneof({ arbitrary: aimed, weight: 4 }, { arbitrary: scattered, weight: 1 }), subjectKey, ([who, asked], key) => {
        const decision = evaluateSshRequest(policy, who, asked, key);
        outcomes[decision.outcome]++;
        if (decision.outcome === 'deny') {
          rules.add(decision.rule);
          expect(decision.rule).toMatch(/^[a-z-]+\.[a-z-]+$/);
          return;
        }
        const grant = decision.grant;
        const granted = policy.roles.find((candidate) => candidate.name === grant.role) as Role;
        expect(granted).toBeDefined();
        // who may use it
        expect(granted.groups.some((group) => who.groups.includes(group))).toBe(true);
        if (who.via === 'gateway') expect(granted.allowGateway).toBe(true);
        if (asked.role !== undefined) expect(grant.role).toBe(asked.role);
        // principals: a non-empty subset
        expect(grant.principals.length).toBeGreaterThan(0);
        for (const principal of grant.principals) expect(granted.principals).toContain(principal);
        // ttl
        expect(Number.isInteger(grant.ttlSeconds)).toBe(true);
        expect(grant.ttlSeconds).toBeGreaterThan(0);
        expect(grant.ttlSeconds).toBeLessThanOrEqual(granted.maxTtlSeconds);
        if (granted.ttlOverMax === 'deny' && asked.ttlSeconds !== undefined) expect(grant.ttlSeconds).toBe(asked.ttlSeconds);
        // scope: concrete values inside the role lists; pods/nodes only where the role has them
        expect(grant.scope.cluster).not.toBe('*');
        expect(grant.scope.namespace).not.toBe('*');
        expect(allows(granted.scope.clusters, grant.scope.cluster)).toBe(true);
        expect(allows(granted.scope.namespaces, grant.scope.namespace)).toBe(true);
        for (const [key, list] of [['pod', granted.scope.pods], ['node', granted.scope.nodes]] as const) {
          const value = grant.scope[key];
          if (list === undefined) expect(value).toBeUndefined();
          else if (!list.includes('*')) expect(list).toContain(value);
          else if (value !== undefined) expect(value).not.toBe('*');
        }
        // commands: a non-empty subset when the role restricts them; the forced command is among them
        if (granted.commands !== undefined) {
          expect(grant.commands?.length).toBeGreaterThan(0);
          for (const command of grant.commands ?? []) expect(granted.commands).toContain(command);
        }
        expect(grant.forceCommand).toBe(granted.forceCommand);
        if (grant.forceCommand !== undefined && grant.commands !== undefined) expect(grant.commands).toContain(grant.forceCommand);
        // source addresses: each inside one of the role's networks
        if (granted.sourceAddresses !== undefined) {
          expect(grant.sourceAddresses?.length).toBeGreaterThan(0);
          for (const cidr of grant.sourceAddresses ?? []) expect(cidrWithinAny(cidr, granted.sourceAddresses)).toBe(true);
        }
        // narrowing is honoured exactly: whatever was asked (and allowed) is what is granted
        if (asked.principals !== undefined) expect(grant.principals).toEqual(asked.principals);
        if (asked.ttlSeconds !== undefined && asked.ttlSeconds <= granted.maxTtlSeconds) expect(grant.ttlSeconds).toBe(asked.ttlSeconds);
        if (asked.commands !== undefined) expect(grant.commands).toEqual(asked.commands);
        if (asked.sourceAddresses !== undefined) expect(grant.sourceAddresses).toEqual(asked.sourceAddresses);
        for (const key of ['cluster', 'namespace', 'pod', 'node'] as const) {
          if (asked.scope?.[key] !== undefined) expect(grant.scope[key]).toBe(asked.scope[key]);
        }
        // extensions and approval exactly as the role says; verify-required only where sshd enforces it
        expect(grant.extensions).toEqual(granted.extensions);
        expect(grant.verifyRequired).toBe(granted.verifyRequired);
        if (grant.verifyRequired) expect(key.isSecurityKey).toBe(true);
        expect(decision.outcome).toBe(granted.approval.mode === 'auto' ? 'approve' : 'pending');
      }),
      { numRuns: 5000 },
    );
    // The property means something only if a fair share of random requests get through.
    // (one run of 5000 saw approve 795, pending 205, deny 4000, with every deny rule represented).
    expect(outcomes.approve).toBeGreaterThan(300);
    expect(outcomes.pending).toBeGreaterThan(50);
    expect(rules.size).toBeGreaterThanOrEqual(14);
  });

  it('random junk requests are denied as request.invalid, never thrown', () => {
    fc.assert(
      fc.property(identity, fc.anything(), subjectKey, (who, junk, key) => {
        const decision = evaluateSshRequest(policy, who, junk as SshCertificateRequest, key);
        if (decision.outcome !== 'deny') {
          // Only a plain object with known fields (e.g. {} asking for the defaults) may get through.
          expect(typeof junk === 'object' && junk !== null && !Array.isArray(junk)).toBe(true);
          for (const key of Object.keys(junk as object)) expect(KNOWN_FIELDS).toContain(key);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
