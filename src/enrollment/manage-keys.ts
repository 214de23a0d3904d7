/**
 * GET /v1/keys and DELETE /v1/keys/{id}: people see and remove their own enrolled keys; members of
 * the policy's keyAdminGroups anyone's (policy/key-admin.ts). A key the caller may not manage is
 * answered as not found, so an id tells an outsider nothing.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';
import { isKeyAdmin, mayManageKeyOf } from '../policy/key-admin.ts';
import type { Identity, Policy } from '../policy/types.ts';
import type { EnrolledKey, Store } from '../store/types.ts';

export interface KeyManagementContext {
  store: Store;
  policy: Policy;
}

/** The caller's keys; with `everyone`, an admin's view of all keys (or of `owner`'s). */
export async function listKeys(context: KeyManagementContext, actor: Identity, options: { owner?: string; everyone?: boolean } = {}): Promise<EnrolledKey[]> {
  if (actor.via === 'gateway') throw new JitcaError(ErrorCodes.FORBIDDEN, 'enrolled keys are not managed through the gateway');
  const wantsOthers = options.everyone === true || (options.owner !== undefined && options.owner !== actor.subject);
  if (wantsOthers && !isKeyAdmin(context.policy, actor)) {
    throw new JitcaError(ErrorCodes.POLICY_DENIED, `${actor.subject} may list only their own keys (or be in one of the policy's keyAdminGroups)`, {
      details: { rule: 'keys.not-admin' },
    });
  }
  return context.store.listEnrolledKeys({ owner: wantsOthers ? options.owner : actor.subject });
}

export async function removeKey(context: KeyManagementContext, actor: Identity, id: string): Promise<EnrolledKey> {
  const key = await context.store.findEnrolledKey({ id });
  if (key === undefined || !mayManageKeyOf(context.policy, actor, key.owner)) {
    throw new JitcaError(ErrorCodes.ENROLLED_KEY_NOT_FOUND, `no enrolled key ${id} that you may manage`);
  }
  await context.store.recordKeyRemoval({
    id: key.id,
    owner: key.owner,
    event: {
      type: 'key.removed',
      actor: actor.subject,
      ...(actor.subject === key.owner ? {} : { subject: key.owner }),
      data: { id: key.id, fingerprint: key.fingerprint, kind: key.kind, by: actor.subject === key.owner ? 'owner' : 'key-admin' },
    },
  });
  return key;
}
