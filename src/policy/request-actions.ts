/**
 * What the person looking at a pending request may do with it, and whether it was made inside its
 * role's working hours: what the approval console shows beside each request (GET /v1/requests and
 * /v1/requests/{id} carry it). Made by the rules the API acts by (canApprove, canDeny), so the page
 * offers a button only where the action would pass; it is a hint, not a gate: the approve and deny
 * routes decide again, from what is stored then, when they are called.
 */
import { canApprove, canDeny } from './approval.ts';
import type { Identity, Policy } from './types.ts';
import { isWithinWorkingHours } from './working-hours.ts';

export interface PendingRequestFacts {
  role?: string;
  requester: string;
  /** What the request's operations and working hours needed when it was made (its stored decision). */
  needed?: { approverGroups: string[]; approvals: 1 | 2 };
  priorApprovers: readonly string[];
}

export interface RequestActions {
  approve: boolean;
  deny: boolean;
}

export function actionsOn(policy: Policy, viewer: Identity, request: PendingRequestFacts): RequestActions {
  const approve =
    request.role !== undefined && canApprove(policy, request.role, viewer, request.requester, request.priorApprovers, request.needed).ok;
  return { approve, deny: canDeny(policy, request.role, viewer, request.requester).ok };
}

/**
 * Whether a request made at `createdAt` fell inside its role's working hours, by the window the
 * policy names now (as approving it judges it: approve-request.ts); undefined for a role without one.
 */
export function workingHoursState(policy: Policy, role: string | undefined, createdAt: Date): 'inside' | 'outside' | undefined {
  const hours = policy.roles.find((candidate) => candidate.name === role)?.workingHours;
  if (hours === undefined) return undefined;
  return isWithinWorkingHours(hours, createdAt) ? 'inside' : 'outside';
}
