/**
 * Whether the SSH gateway may act for an engineer on something of a given role. A role's
 * `allowGateway` (default false) governs every action on its requests, not only their creation: a
 * break-glass role refuses the gateway so that each step of it (asking, approving, denying,
 * reading, collecting the certificate) is done by the person themselves with their own token. A
 * gateway that could give the second approval, or collect the certificate, would reopen exactly
 * the path the role closed.
 */
import type { Identity, Policy } from './types.ts';

export type GatewayCheck = { ok: true } | { ok: false; rule: 'role.gateway'; message: string };

/**
 * `roleName` is the role of the request acted on; undefined (a request refused before a role was
 * settled) or a role no longer in the policy is refused to the gateway: only a role that says
 * `allowGateway: true` lets it through.
 */
export function gatewayMayActOn(policy: Policy, identity: Identity, roleName: string | undefined): GatewayCheck {
  if (identity.via !== 'gateway') return { ok: true };
  const role = roleName === undefined ? undefined : policy.roles.find((candidate) => candidate.name === roleName);
  if (role?.allowGateway === true) return { ok: true };
  return {
    ok: false,
    rule: 'role.gateway',
    message:
      role === undefined
        ? 'this request has no role that accepts the SSH gateway; act on it directly'
        : `role ${role.name} does not accept requests made through the SSH gateway; act on it directly`,
  };
}
