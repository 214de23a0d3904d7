/**
 * Who may see and remove an enrolled key. Its owner always may; members of the policy's
 * `keyAdminGroups` may for anyone's (a person who left, a lost device). A gateway never manages
 * keys: it acts for an engineer's session, and an enrollment binds a key to the person directly.
 */
import type { Identity, Policy } from './types.ts';

/** Is the actor a key administrator (lists and removes anyone's enrolled keys)? */
export function isKeyAdmin(policy: Policy, actor: Identity): boolean {
  if (actor.via === 'gateway') return false;
  const admins = policy.keyAdminGroups ?? [];
  return admins.some((group) => actor.groups.includes(group));
}

/** May the actor see or remove a key enrolled by `owner`? */
export function mayManageKeyOf(policy: Policy, actor: Identity, owner: string): boolean {
  if (actor.via === 'gateway') return false;
  return actor.subject === owner || isKeyAdmin(policy, actor);
}
