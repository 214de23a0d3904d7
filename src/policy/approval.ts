/**
 * Who may approve a pending request. Two-person rules only mean something if the requester cannot
 * approve themselves and one person cannot approve twice (the seeds' approval matrix: "两人会签",
 * two distinct signatures, for kubectl debug).
 */
import { gatewayMayActOn } from './gateway.ts';
import type { ApprovalRule, Identity, Policy, Role } from './types.ts';

export type ApprovalCheck = { ok: true } | { ok: false; rule: string; message: string };

export function canApprove(
  policy: Policy,
  role: string,
  approver: Identity,
  requester: string,
  priorApprovers: readonly string[],
  /** What the request's operations and working hours need (evaluate.ts); absent: the role's own approval. */
  needed?: { approverGroups: string[]; approvals: 1 | 2 },
): ApprovalCheck {
  const found = policy.roles.find((candidate) => candidate.name === role);
  if (found === undefined) return refuse('role.unknown', `role "${role}" does not exist in the policy`);
  const approval: ApprovalRule = needed === undefined ? found.approval : { mode: 'manual', ...needed };
  if (approval.mode !== 'manual') {
    return refuse('approval.not-required', `role ${found.name} is approved automatically; there is nothing to approve`);
  }
  const gateway = gatewayMayActOn(policy, approver, found.name);
  if (!gateway.ok) return refuse(gateway.rule, gateway.message);
  if (approver.subject === requester) {
    return refuse('approval.self', `${approver.subject} requested this certificate and cannot approve it`);
  }
  const groups = Array.isArray(approver.groups) ? approver.groups : [];
  if (!approval.approverGroups.some((group) => groups.includes(group))) {
    return refuse(
      'approval.group',
      `${approver.subject} is not in an approver group of role ${found.name} (needs one of: ${approval.approverGroups.join(', ')})`,
    );
  }
  if (priorApprovers.includes(approver.subject)) {
    return refuse('approval.duplicate', `${approver.subject} has already approved this request; approvals must come from different people`);
  }
  if (priorApprovers.length >= approval.approvals) {
    return refuse('approval.complete', `this request already has the ${approval.approvals} approval(s) role ${found.name} needs`);
  }
  return { ok: true };
}

/**
 * Who may deny a pending request: its requester (withdrawing it) and anyone in an approver group of
 * its role, whatever the request's operations need: a second approver may stop what a first approved.
 */
export function canDeny(policy: Policy, role: string | undefined, actor: Identity, requester: string): ApprovalCheck {
  if (actor.subject === requester) return { ok: true };
  const found = policy.roles.find((candidate) => candidate.name === role);
  const groups = Array.isArray(actor.groups) ? actor.groups : [];
  if (found !== undefined && approverGroupsOf(found).some((group) => groups.includes(group))) return { ok: true };
  return refuse('approval.group', `${actor.subject} may not deny this request: not the requester and not an approver of its role`);
}

/**
 * Every group that may be asked to approve a request of this role: the role's own approvers, each
 * operation's, and those outside working hours. Seeing and denying requests go by the role, so an
 * approver of one operation sees the role's requests; approving is checked against what the one
 * request needs (canApprove's `needed`).
 */
export function approverGroupsOf(role: Role): string[] {
  const groups = new Set<string>();
  const add = (approval: ApprovalRule | undefined): void => {
    if (approval?.mode === 'manual') for (const group of approval.approverGroups) groups.add(group);
  };
  add(role.approval);
  for (const operation of role.operations ?? []) add(operation.approval);
  for (const group of role.workingHours?.outsideApproval?.approverGroups ?? []) groups.add(group);
  return [...groups];
}

function refuse(rule: string, message: string): ApprovalCheck {
  return { ok: false, rule, message };
}
