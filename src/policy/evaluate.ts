/**
 * evaluateSshRequest: the pure decision over (policy, identity, request). A request can only narrow
 * what a role grants, never widen it: every value in the grant is either the role's own value or a
 * requested value that was checked to lie inside it. The issuance pipeline carries out the Decision
 * (CONTRIBUTING.md, "Decide, then act"); nothing here signs, stores or reads the clock.
 */
import { cidrWithinAny } from './cidr.ts';
import { formatDuration } from './duration.ts';
import { gatewayMayActOn } from './gateway.ts';
import { keyRequirementRefusal } from './key-requirements.ts';
import { approvalStrictness, resolveOperations } from './operations.ts';
import { SCOPE_WILDCARD } from './patterns.ts';
import { echo, findRequestProblem } from './request-shape.ts';
import type { ApprovalRule, Decision, Identity, Policy, Role, Scope, SshCertificateRequest, SshGrant, SubjectKey } from './types.ts';
import { isWithinWorkingHours } from './working-hours.ts';

export { canApprove, type ApprovalCheck } from './approval.ts';

type Deny = Extract<Decision, { outcome: 'deny' }>;

export function evaluateSshRequest(
  policy: Policy,
  identity: Identity,
  request: SshCertificateRequest,
  key: SubjectKey,
  /**
   * When the request is made, for a role's working hours. Absent (callers that predate them) counts
   * as outside the window: a role with working hours then asks for on-call or approval, never less.
   */
  at?: Date,
): Decision {
  const shapeProblem = findRequestProblem(request);
  if (shapeProblem !== undefined) return deny('request.invalid', shapeProblem);

  const selected = selectRole(policy, identity, request.role);
  if ('outcome' in selected) return selected;
  const role = selected;
  const notes: string[] = [];

  const gateway = gatewayMayActOn(policy, identity, role.name);
  if (!gateway.ok) return deny(gateway.rule, gateway.message);

  // sshd enforces verify-required only on signatures from FIDO keys (auth2-pubkey.c checks it inside
  // "if (sig_details != NULL)", which only sk-* keys produce): on any other key the option is
  // silently void, so certifying one would drop the role's user-verification requirement.
  if (role.verifyRequired === true && key?.isSecurityKey !== true) {
    return deny(
      'key.verify-required',
      `role ${role.name} requires user verification (verify-required), which sshd enforces only for FIDO security keys; ` +
        `certify an sk-ssh-ed25519@openssh.com or sk-ecdsa-sha2-nistp256@openssh.com key, not ${echo(String(key?.type))}`,
    );
  }

  const keyRefusal = keyRequirementRefusal(role, key);
  if (keyRefusal !== undefined) return deny(keyRefusal.rule, keyRefusal.message);

  const principals = request.principals ?? role.principals;
  const badPrincipal = principals.find((principal) => !role.principals.includes(principal));
  if (badPrincipal !== undefined) {
    return deny(
      'principals.not-allowed',
      `principal "${echo(badPrincipal)}" is not allowed by role ${role.name} (allowed: ${role.principals.join(', ')})`,
    );
  }

  const operations = resolveOperations(role, request.operations);
  if (operations !== undefined && 'rule' in operations) return deny(operations.rule, operations.message);
  // The strictest requested operation's lifetime caps the role's, under the role's own ttlOverMax.
  const limits =
    operations === undefined
      ? role
      : { ...role, maxTtlSeconds: operations.maxTtlSeconds, defaultTtlSeconds: Math.min(role.defaultTtlSeconds, operations.maxTtlSeconds) };

  const ttl = resolveTtl(limits, request.ttlSeconds, notes);
  if (typeof ttl !== 'number') return ttl;

  const scope = resolveScope(role, request.scope ?? {}, notes);
  if ('outcome' in scope) return scope;

  const commands = resolveCommands(role, request.commands);
  if (commands !== undefined && !Array.isArray(commands)) return commands;

  const sourceAddresses = resolveSourceAddresses(role, request.sourceAddresses);
  if (sourceAddresses !== undefined && !Array.isArray(sourceAddresses)) return sourceAddresses;

  const grant: SshGrant = {
    role: role.name,
    principals: [...principals],
    ttlSeconds: ttl,
    scope,
    ...(commands === undefined ? {} : { commands: [...commands] }),
    ...(role.forceCommand === undefined ? {} : { forceCommand: role.forceCommand }),
    ...(sourceAddresses === undefined ? {} : { sourceAddresses: [...sourceAddresses] }),
    extensions: [...role.extensions],
    // A role requiring user verification at enrollment also makes sshd require it at each login.
    verifyRequired: role.verifyRequired === true || role.key?.userVerification === true,
    ...(operations === undefined ? {} : { operations: [...operations.operations] }),
  };

  const approval = approvalAt(role, identity.groups, operations?.approval ?? role.approval, at, notes);
  if ('outcome' in approval) return approval;
  if (approval.mode === 'auto') return { outcome: 'approve', grant, notes };
  return {
    outcome: 'pending',
    grant,
    approval: { approverGroups: [...approval.approverGroups], approvals: approval.approvals },
    notes,
  };
}

/**
 * Outside a role's working hours, on-call members are decided as usual and everyone else needs the
 * window's outsideApproval (the stricter of it and the operations' own), or is refused without one.
 * Shared by the API path and the Kubernetes CSR path (csr-evaluate.ts): the same rule on both.
 */
export function approvalAt(role: Role, requesterGroups: readonly string[], approval: ApprovalRule, at: Date | undefined, notes: string[]): ApprovalRule | Deny {
  const hours = role.workingHours;
  if (hours === undefined) return approval;
  if (at !== undefined && isWithinWorkingHours(hours, at)) return approval;
  const groups = Array.isArray(requesterGroups) ? requesterGroups : [];
  if (hours.onCallGroups.some((group) => groups.includes(group))) {
    notes.push(`outside the working hours of role ${role.name}; allowed as on-call`);
    return approval;
  }
  const window = `${hours.days.join(',')} ${hours.start}-${hours.end} ${hours.timeZone}`;
  if (hours.outsideApproval === undefined) {
    return deny(
      'working-hours.on-call',
      `outside the working hours of role ${role.name} (${window}) only on-call may request (${hours.onCallGroups.join(', ')})`,
    );
  }
  const outside: ApprovalRule = { mode: 'manual', ...hours.outsideApproval };
  notes.push(`outside the working hours of role ${role.name} (${window}) and not on-call: needs manual approval`);
  return approvalStrictness(outside) >= approvalStrictness(approval) ? outside : approval;
}

function selectRole(policy: Policy, identity: Identity, requested: string | undefined): Role | Deny {
  const groups = Array.isArray(identity.groups) ? identity.groups : [];
  const open = (role: Role): boolean => role.groups.some((group) => groups.includes(group));
  // Only deny messages list the open roles; an approved request never needs the text.
  const openNames = (): string => {
    const names = policy.roles.filter(open).map((role) => role.name);
    return names.length === 0 ? 'none' : names.join(', ');
  };

  if (requested !== undefined) {
    const role = policy.roles.find((candidate) => candidate.name === requested);
    if (role === undefined) {
      return deny('role.unknown', `role "${echo(requested)}" does not exist; roles open to you: ${openNames()}`);
    }
    if (!open(role)) {
      return deny(
        'role.groups',
        `${echo(identity.subject)} is not in any group of role ${role.name} (needs one of: ${role.groups.join(', ')})`,
      );
    }
    return role;
  }
  let only: Role | undefined;
  for (const role of policy.roles) {
    if (!open(role)) continue;
    if (only !== undefined) {
      return deny('role.ambiguous', `several roles are open to you (${openNames()}); name the one you need in "role"`);
    }
    only = role;
  }
  if (only === undefined) {
    return deny('role.none', `no role in the policy is open to the groups of ${echo(identity.subject)}`);
  }
  return only;
}

function resolveTtl(role: Role, asked: number | undefined, notes: string[]): number | Deny {
  if (asked === undefined) return role.defaultTtlSeconds;
  if (!Number.isInteger(asked) || asked <= 0) {
    return deny('ttl.invalid', `ttl ${String(asked)} is not a whole number of seconds above zero`);
  }
  if (asked <= role.maxTtlSeconds) return asked;
  const text = `ttl ${seconds(asked)} exceeds role ${role.name} max ${seconds(role.maxTtlSeconds)}`;
  if (role.ttlOverMax === 'deny') return deny('ttl.max', text);
  notes.push(`${text}; capped to ${seconds(role.maxTtlSeconds)}`);
  return role.maxTtlSeconds;
}

type ScopeKey = keyof Scope;
const SCOPE_LISTS: Readonly<Record<ScopeKey, keyof Role['scope']>> = {
  cluster: 'clusters',
  namespace: 'namespaces',
  pod: 'pods',
  node: 'nodes',
};

/** cluster and namespace are always bound; pod and node only when the role lists them. */
export function resolveScope(role: Role, asked: Partial<Scope>, notes: string[]): Scope | Deny {
  const cluster = resolveScopeValue(role, 'cluster', asked.cluster, notes);
  if (typeof cluster !== 'string') return cluster ?? requiredScope(role, 'cluster');
  const namespace = resolveScopeValue(role, 'namespace', asked.namespace, notes);
  if (typeof namespace !== 'string') return namespace ?? requiredScope(role, 'namespace');
  const pod = resolveScopeValue(role, 'pod', asked.pod, notes);
  if (pod !== undefined && typeof pod !== 'string') return pod;
  const node = resolveScopeValue(role, 'node', asked.node, notes);
  if (node !== undefined && typeof node !== 'string') return node;
  return { cluster, namespace, ...(pod === undefined ? {} : { pod }), ...(node === undefined ? {} : { node }) };
}

/**
 * A cluster named without a namespace (the kubectl plugin's --cluster): no scope is written for it,
 * but it must still be a cluster the role allows, or the request is refused as with a full scope.
 */
export function clusterRefusal(role: Role, cluster: string): Deny | undefined {
  const resolved = resolveScopeValue(role, 'cluster', cluster, []);
  return typeof resolved === 'object' ? resolved : undefined;
}

/**
 * The asked value when it is inside the role's list; the role's value when it allows exactly one;
 * undefined when nothing was asked and the role allows any value or lists none. Leaving a value out
 * never widens: a role listing several specific pods makes the requester pick one.
 */
function resolveScopeValue(role: Role, key: ScopeKey, value: string | undefined, notes: string[]): string | undefined | Deny {
  const allowed = role.scope[SCOPE_LISTS[key]];
  const rule = `scope.${key}`;
  if (allowed === undefined) {
    if (value === undefined) return undefined;
    return deny(rule, `role ${role.name} does not scope certificates to a ${key}; leave scope.${key} out`);
  }
  const any = allowed.includes(SCOPE_WILDCARD);
  if (value !== undefined) {
    if (any || allowed.includes(value)) return value;
    return deny(rule, `${key} "${echo(value)}" is not allowed by role ${role.name} (allowed: ${allowed.join(', ')})`);
  }
  if (any) return undefined;
  const [single, ...more] = allowed;
  if (single !== undefined && more.length === 0) {
    notes.push(`scope.${key} defaulted to ${single}, the only ${key} role ${role.name} allows`);
    return single;
  }
  return deny(rule, `scope.${key} is required: role ${role.name} allows ${allowed.join(', ')}; name one`);
}

function requiredScope(role: Role, key: 'cluster' | 'namespace'): Deny {
  return deny(`scope.${key}`, `scope.${key} is required: role ${role.name} allows any ${key}; name one`);
}

function resolveCommands(role: Role, asked: string[] | undefined): string[] | undefined | Deny {
  let commands: string[] | undefined;
  if (asked === undefined) {
    commands = role.commands;
  } else {
    if (role.commands !== undefined) {
      const allowed = role.commands;
      const bad = asked.find((command) => !allowed.includes(command));
      if (bad !== undefined) {
        return deny(
          'commands.not-allowed',
          `command "${echo(bad)}" is not allowed by role ${role.name} (allowed: ${allowed.join('; ')})`,
        );
      }
    }
    // A role without a command list does not restrict commands, so a requested list only narrows.
    commands = asked;
  }
  // sshd runs the forced command whatever commands@ says; a grant must not contradict itself.
  if (role.forceCommand !== undefined && commands !== undefined && !commands.includes(role.forceCommand)) {
    return deny(
      'commands.not-allowed',
      `role ${role.name} forces the command "${role.forceCommand}"; requested commands must include it`,
    );
  }
  return commands;
}

function resolveSourceAddresses(role: Role, asked: string[] | undefined): string[] | undefined | Deny {
  if (asked === undefined) return role.sourceAddresses;
  const allowed = role.sourceAddresses;
  if (allowed !== undefined) {
    const outside = asked.find((cidr) => !cidrWithinAny(cidr, allowed));
    if (outside !== undefined) {
      return deny(
        'source-address.not-allowed',
        `source address ${echo(outside)} is not inside role ${role.name}'s source addresses (${allowed.join(', ')})`,
      );
    }
  }
  return asked;
}

function deny(rule: string, message: string): Deny {
  return { outcome: 'deny', rule, message };
}

/** "7200s (2h)": seconds for precision, the short form for people. */
function seconds(value: number): string {
  return Number.isSafeInteger(value) && value >= 60 ? `${value}s (${formatDuration(value)})` : `${value}s`;
}
