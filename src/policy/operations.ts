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
