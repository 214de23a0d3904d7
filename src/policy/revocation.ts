/**
 * Who may revoke an SSH certificate through the API. The holder always may (a lost laptop, a
 * leaked key: the person who notices first is usually its owner); members of the policy's
 * `revokerGroups` may revoke anyone's (incident response). A gateway never revokes: it acts for
 * an engineer's session, not for the security team. The local `jitca revoke` command is the
 * security team's own path and is not asked.
 */
import type { Identity, Policy } from './types.ts';

export type RevocationCheck = { ok: true; rule: 'revoke.self' | 'revoke.group' } | { ok: false; rule: string; message: string };

export function canRevoke(policy: Policy, actor: Identity, holder: string): RevocationCheck {
  if (actor.via === 'gateway') {
    return { ok: false, rule: 'revoke.gateway', message: 'certificates are revoked by their holder or a revoker group, not through the gateway' };
  }
  if (actor.subject === holder) return { ok: true, rule: 'revoke.self' };
  const revokers = policy.revokerGroups ?? [];
  if (revokers.some((group) => actor.groups.includes(group))) return { ok: true, rule: 'revoke.group' };
  return {
    ok: false,
    rule: 'revoke.not-allowed',
    message:
      revokers.length === 0
        ? `${actor.subject} may revoke only their own certificates (the policy names no revokerGroups)`
        : `${actor.subject} may revoke only their own certificates, or be in one of: ${revokers.join(', ')}`,
  };
}
