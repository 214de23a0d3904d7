import type { Identity, Policy, Role, SubjectKey } from '../../src/policy/types.ts';

/** A valid policy document as plain JSON data; tests copy it and break one thing. */
export function validPolicyDocument(): { version: number; extensionDomain: string; roles: Record<string, unknown>[] } {
  return {
    version: 1,
    extensionDomain: 'jitca.dev',
    roles: [
      {
        name: 'oncall-payments',
        groups: ['oncall-payments'],
        principals: ['oncall-payments', 'payments-readonly'],
        maxTtlSeconds: 1800,
        scope: { clusters: ['prod'], namespaces: ['payments'] },
        commands: ['kubectl logs', 'kubectl exec'],
        approval: { mode: 'auto' },
      },
      {
        name: 'break-glass',
        groups: ['sre'],
        principals: ['break-glass'],
        maxTtlSeconds: 900,
        ttlOverMax: 'deny',
        scope: { clusters: ['prod'], namespaces: ['*'] },
        approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 2 },
      },
    ],
  };
}

/** A role with every field spelled out, for evaluate tests that do not go through the loader. */
export function role(overrides: Partial<Role> & Pick<Role, 'name'>): Role {
  return {
    groups: [overrides.name],
    principals: [overrides.name],
    maxTtlSeconds: 1800,
    defaultTtlSeconds: 1800,
    ttlOverMax: 'cap',
    scope: { clusters: ['prod'], namespaces: ['payments'] },
    extensions: ['permit-pty'],
    verifyRequired: false,
    approval: { mode: 'auto' },
    allowGateway: false,
    ...overrides,
  };
}

export function policyOf(...roles: Role[]): Policy {
  return { version: 1, extensionDomain: 'jitca.dev', roles };
}

export function person(subject: string, groups: string[], via: Identity['via'] = 'oidc'): Identity {
  return { subject, groups, via };
}

/** The kinds of key evaluate distinguishes: a software key and a FIDO security key (PROTOCOL.u2f). */
export const PLAIN_KEY: SubjectKey = { type: 'ssh-ed25519', isSecurityKey: false };
export const FIDO_KEY: SubjectKey = { type: 'sk-ssh-ed25519@openssh.com', isSecurityKey: true };
