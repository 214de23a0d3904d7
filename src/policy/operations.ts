/**
 * The approval matrix (issue 15): which of a role's operations a request gets, and what the
 * strictest of them demands. Pure: the evaluator calls it and folds the answer into its Decision.
 */
import type { ApprovalRule, OperationGrant, OperationName, Role } from './types.ts';

export const OPERATION_NAMES: readonly OperationName[] = ['view-logs', 'view-config', 'exec', 'debug', 'port-forward'];

export interface OperationsOutcome {
  operations: OperationName[];
  /** The strictest requested operation's approval. */
  approval: ApprovalRule;
  /** The shortest maximum lifetime among the requested operations. */
  maxTtlSeconds: number;
}

export type OperationsRefusal = { rule: string; message: string };

/**
 * undefined when the role lists no operations (and the request names none): the role is decided as
 * before the matrix existed. A role without operations refuses a request naming some, since it
 * cannot put them in the certificate.
 */
export function resolveOperations(
  role: Role,
  asked: readonly OperationName[] | undefined,
): OperationsOutcome | OperationsRefusal | undefined {
  const granted = role.operations;
  if (granted === undefined) {
    if (asked === undefined) return undefined;
    return { rule: 'operations.not-allowed', message: `role ${role.name} grants no operations; leave operations out` };
  }
  const chosen: OperationGrant[] = [];
  if (asked === undefined) {
    // The least the role allows: one operation, the least strict (the first listed among equals).
    const least = [...granted].sort((a, b) => strictness(a) - strictness(b))[0];
    if (least !== undefined) chosen.push(least);
  } else {
    for (const name of asked) {
      if (!OPERATION_NAMES.includes(name)) {
        return { rule: 'operations.unknown', message: `operation "${name}" is not known; operations: ${OPERATION_NAMES.join(', ')}` };
      }
      const grant = granted.find((candidate) => candidate.name === name);
      if (grant === undefined) {
        return {
          rule: 'operations.not-allowed',
          message: `operation ${name} is not granted by role ${role.name} (granted: ${granted.map((g) => g.name).join(', ')})`,
        };
      }
      if (!chosen.includes(grant)) chosen.push(grant);
    }
  }
  const strictest = chosen.reduce((a, b) => (strictness(b) > strictness(a) ? b : a));
  return {
    operations: chosen.map((grant) => grant.name),
    approval: strictest.approval,
    maxTtlSeconds: Math.min(role.maxTtlSeconds, ...chosen.map((grant) => grant.maxTtlSeconds)),
  };
}

/** auto < manual with one approver < manual with two; lifetimes are folded separately (the shortest). */
export function approvalStrictness(approval: ApprovalRule): number {
  return approval.mode === 'auto' ? 0 : approval.approvals;
}

function strictness(grant: OperationGrant): number {
  return approvalStrictness(grant.approval);
}

/** The role's operations that reach Kubernetes; undefined when none names kubernetesGroups (the role predates them). */
export function kubernetesOperations(role: Role): (OperationGrant & { kubernetesGroups: string[] })[] | undefined {
  const grants = (role.operations ?? []).filter((grant): grant is OperationGrant & { kubernetesGroups: string[] } => grant.kubernetesGroups !== undefined);
  return grants.length === 0 ? undefined : grants;
}

/** The O values for the operations named (absent: the least the role allows), in the role's order. */
export function groupsForOperations(role: Role, asked: readonly OperationName[] | undefined): string[] | OperationsRefusal {
  const grants = kubernetesOperations(role);
  if (grants === undefined) {
    return { rule: 'operations.not-allowed', message: `role ${role.name} grants no operations on Kubernetes; leave operations out` };
  }
  const resolved = resolveOperations({ ...role, operations: grants }, asked);
  if (resolved === undefined) return { rule: 'operations.not-allowed', message: `role ${role.name} grants no operations on Kubernetes` };
  if ('rule' in resolved) return resolved;
  const chosen = grants.filter((grant) => resolved.operations.includes(grant.name));
  return [...new Set(chosen.flatMap((grant) => grant.kubernetesGroups))];
}

/**
 * The operations a certificate with these O values would enable, and what they demand. RBAC sees
 * groups, not operations: a certificate carrying an operation's groups can do that operation,
 * whatever was asked for. So every operation whose groups are all present counts (the strictest of
 * them decides approval, the shortest lifetime caps), and the O values must be exactly the union of
 * those operations' groups: a group that no operation grants, or only part of one's, is refused.
 * undefined when the role's operations name no Kubernetes groups (decided as before the matrix).
 */
export function operationsForGroups(role: Role, organizations: readonly string[]): OperationsOutcome | OperationsRefusal | undefined {
  const grants = kubernetesOperations(role);
  if (grants === undefined) return undefined;
  const enabled = grants.filter((grant) => grant.kubernetesGroups.every((group) => organizations.includes(group)));
  const covered = new Set(enabled.flatMap((grant) => grant.kubernetesGroups));
  const beyond = organizations.filter((group) => !covered.has(group));
  if (beyond.length > 0 || enabled.length === 0) {
    const table = grants.map((grant) => `${grant.name}: ${grant.kubernetesGroups.join('+')}`).join('; ');
    const what = beyond.length > 0 ? `group(s) ${beyond.map((group) => JSON.stringify(group)).join(', ')} are` : 'no groups are';
    return {
      rule: 'csr.groups-beyond-operations',
      message: `${what} not exactly the groups of operations granted by role ${role.name} (${table})`,
    };
  }
  const strictest = enabled.reduce((a, b) => (strictness(b) > strictness(a) ? b : a));
  return {
    operations: enabled.map((grant) => grant.name),
    approval: strictest.approval,
    maxTtlSeconds: Math.min(...enabled.map((grant) => grant.maxTtlSeconds)),
  };
}
