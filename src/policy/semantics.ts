/**
 * Checks over a schema-valid policy that JSON Schema cannot express. Each returns the JSON Pointer of
 * the offending value so the reviewer can find it.
 */
import { SCOPE_WILDCARD } from './patterns.ts';
import type { Policy, Role } from './types.ts';
import { isKnownTimeZone } from './working-hours.ts';

export interface PolicyProblem {
  /** JSON Pointer (RFC 6901) into the policy file. */
  path: string;
  /** Starts with the path; says what is wrong and what is allowed. */
  message: string;
}

/**
 * Kubernetes reserves the "system:" prefix for its own users and groups (system:masters is
 * cluster-admin without RBAC). A JIT role granting or trusting one would bypass the whole design.
 */
const RESERVED_GROUP_PREFIX = 'system:';

export function findSemanticProblem(policy: Policy): PolicyProblem | undefined {
  const firstIndexByName = new Map<string, number>();
  for (const [index, role] of policy.roles.entries()) {
    const at = `/roles/${index}`;
    const earlier = firstIndexByName.get(role.name);
    if (earlier !== undefined) {
      return problem(`${at}/name`, `is "${role.name}", already used by /roles/${earlier}; role names must be unique`);
    }
    firstIndexByName.set(role.name, index);
    const roleProblem = findRoleProblem(role, at);
    if (roleProblem !== undefined) return roleProblem;
  }
  return undefined;
}

function findRoleProblem(role: Role, at: string): PolicyProblem | undefined {
  if (role.defaultTtlSeconds > role.maxTtlSeconds) {
    return problem(
      `${at}/defaultTtlSeconds`,
      `is ${role.defaultTtlSeconds}, more than maxTtlSeconds ${role.maxTtlSeconds}; the default must be <= the max`,
    );
  }
  const reserved = findReservedGroup(role.groups, `${at}/groups`);
  if (reserved !== undefined) return reserved;
  if (role.approval.mode === 'manual') {
    const approver = findReservedGroup(role.approval.approverGroups, `${at}/approval/approverGroups`);
    if (approver !== undefined) return approver;
    // "Manual approval needs approver groups" is the schema's minItems: 1 on approverGroups.
  }
  if (role.kubernetes !== undefined) {
    // O values become Kubernetes groups; "system:masters" in a client certificate is cluster-admin.
    const certificateGroup = findReservedGroup(role.kubernetes.groups, `${at}/kubernetes/groups`);
    if (certificateGroup !== undefined) return certificateGroup;
  }
  if (role.forceCommand !== undefined && role.commands !== undefined && !role.commands.includes(role.forceCommand)) {
    return problem(
      `${at}/forceCommand`,
      `is "${role.forceCommand}", which is not in commands (${role.commands.join(', ')}); a forced command must be one the role allows`,
    );
  }
  const operationsProblem = findOperationsProblem(role, at);
  if (operationsProblem !== undefined) return operationsProblem;
  if (role.workingHours !== undefined) {
    const hours = role.workingHours;
    if (!isKnownTimeZone(hours.timeZone)) {
      return problem(`${at}/workingHours/timeZone`, `is "${hours.timeZone}", which is not an IANA time zone this Node knows`);
    }
    if (hours.start === hours.end) {
      return problem(`${at}/workingHours/end`, `is "${hours.end}", the same as start; the window would be empty`);
    }
    const onCall = findReservedGroup(hours.onCallGroups, `${at}/workingHours/onCallGroups`);
    if (onCall !== undefined) return onCall;
    if (hours.outsideApproval !== undefined) {
      const approver = findReservedGroup(hours.outsideApproval.approverGroups, `${at}/workingHours/outsideApproval/approverGroups`);
      if (approver !== undefined) return approver;
    }
  }
  for (const dimension of ['clusters', 'namespaces', 'pods', 'nodes'] as const) {
    const values = role.scope[dimension];
    if (values !== undefined && values.length > 1 && values.includes(SCOPE_WILDCARD)) {
      return problem(
        `${at}/scope/${dimension}/${values.indexOf(SCOPE_WILDCARD)}`,
        `is "*" next to other values; use either ["*"] or a list of names`,
      );
    }
  }
  return undefined;
}

function findOperationsProblem(role: Role, at: string): PolicyProblem | undefined {
  const seen = new Set<string>();
  for (const [index, operation] of (role.operations ?? []).entries()) {
    const path = `${at}/operations/${index}`;
    if (seen.has(operation.name)) return problem(`${path}/name`, `is "${operation.name}", already listed; each operation once`);
    seen.add(operation.name);
    if (operation.maxTtlSeconds > role.maxTtlSeconds) {
      return problem(
        `${path}/maxTtlSeconds`,
        `is ${operation.maxTtlSeconds}, more than the role's maxTtlSeconds ${role.maxTtlSeconds}; an operation may only shorten it`,
      );
    }
    if (operation.approval.mode === 'manual') {
      const approver = findReservedGroup(operation.approval.approverGroups, `${path}/approval/approverGroups`);
      if (approver !== undefined) return approver;
    }
    const groupsProblem = findOperationGroupsProblem(role, operation.kubernetesGroups ?? [], `${path}/kubernetesGroups`);
    if (groupsProblem !== undefined) return groupsProblem;
  }
  return undefined;
}

/** An operation's Kubernetes groups must be groups the role hands out at all (kubernetes.groups). */
function findOperationGroupsProblem(role: Role, groups: readonly string[], at: string): PolicyProblem | undefined {
  if (groups.length === 0) return undefined;
  if (role.kubernetes === undefined) {
    return problem(at, `names Kubernetes groups, but the role has no kubernetes section; add kubernetes.groups listing them`);
  }
  const allowed = role.kubernetes.groups;
  const index = groups.findIndex((group) => !allowed.includes(group));
  if (index < 0) return undefined;
  return problem(`${at}/${index}`, `is "${groups[index]}", which is not in the role's kubernetes.groups (${allowed.join(', ')})`);
}

function findReservedGroup(groups: readonly string[], at: string): PolicyProblem | undefined {
  const index = groups.findIndex((group) => group.toLowerCase().startsWith(RESERVED_GROUP_PREFIX));
  if (index < 0) return undefined;
  return problem(
    `${at}/${index}`,
    `is "${groups[index]}"; groups starting with "system:" are reserved by Kubernetes and may not be granted or trusted`,
  );
}

function problem(path: string, text: string): PolicyProblem {
  return { path, message: `${path} ${text}` };
}
