/**
 * Who may see a request: the person who made it, and the approvers of its role; nobody else learns
 * that it exists. One rule for both ways of looking: GET /v1/requests/{id} asks it of one request
 * (requestAccess), GET /v1/requests turns it into the scope the store lists (requestScope), and
 * inRequestScope is the scope's meaning, which the store's query implements.
 *
 * Then the gateway rule (gateway.ts): through the SSH gateway, nothing of a role without
 * `allowGateway: true` is shown, listed or acted on.
 */
import { approverGroupsOf } from './approval.ts';
import { gatewayMayActOn } from './gateway.ts';
import type { Identity, Policy } from './types.ts';

/** A request as far as seeing it goes: who made it and for which role (none when refused before one was settled). */
export interface RequestOwner {
  requester: string;
  role?: string;
}

/**
 * Requests made by `requester`, or of one of `roles` whoever made them; never those made by
 * `notRequester`; and, when `onlyRoles` is set, only of those roles.
 */
export interface RequestScope {
  requester?: string;
  roles: string[];
  notRequester?: string;
  onlyRoles?: string[];
}

/** all: everything the person may see; mine: what they asked; to-approve: others' requests of roles they approve. */
export type RequestView = 'all' | 'mine' | 'to-approve';

export type RequestAccess = { ok: true } | { ok: false; hidden: true } | { ok: false; hidden: false; rule: 'role.gateway'; message: string };

/** Roles whose requests this person approves: roles naming one of their groups to approve anything (approval.ts). */
export function rolesApprovedBy(policy: Policy, identity: Identity): string[] {
  const groups = Array.isArray(identity.groups) ? identity.groups : [];
  return policy.roles.filter((role) => approverGroupsOf(role).some((group) => groups.includes(group))).map((role) => role.name);
}

export function requestScope(policy: Policy, identity: Identity, view: RequestView): RequestScope {
  const scope: RequestScope =
    view === 'mine'
      ? { requester: identity.subject, roles: [] }
      : view === 'to-approve'
        ? // Nobody approves their own request (approval.ts), so their own are not waiting for them.
          { roles: rolesApprovedBy(policy, identity), notRequester: identity.subject }
        : { requester: identity.subject, roles: rolesApprovedBy(policy, identity) };
  if (identity.via === 'gateway') scope.onlyRoles = policy.roles.filter((role) => role.allowGateway === true).map((role) => role.name);
  return scope;
}

export function inRequestScope(scope: RequestScope, request: RequestOwner): boolean {
  const whose = request.requester === scope.requester || (request.role !== undefined && scope.roles.includes(request.role));
  if (!whose || request.requester === scope.notRequester) return false;
  return scope.onlyRoles === undefined || (request.role !== undefined && scope.onlyRoles.includes(request.role));
}

/**
 * One request: hidden (the API answers 404, as for an id that does not exist) unless the person
 * may see it; refused by the gateway rule (403, which says no more than that the role refuses the
 * gateway) for those who may see it but act through the gateway.
 */
export function requestAccess(policy: Policy, identity: Identity, request: RequestOwner): RequestAccess {
  const { onlyRoles: _gatewayRoles, ...seeing } = requestScope(policy, identity, 'all');
  if (!inRequestScope(seeing, request)) return { ok: false, hidden: true };
  const gateway = gatewayMayActOn(policy, identity, request.role);
  if (!gateway.ok) return { ok: false, hidden: false, rule: gateway.rule, message: gateway.message };
  return { ok: true };
}
