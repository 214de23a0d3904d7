import { ErrorCodes, JitcaError } from '../errors.ts';
import { formatAuthorizedKeysLine, parseSshPublicKey } from '../ssh/public-key.ts';
import type { LocalUser, Store } from '../store/types.ts';
import { checkLocalGroups, checkLocalUserName } from './local-identity-names.ts';

/**
 * `jitca users add|list|remove`: registering people as local identities. Run on the CA host against
 * the configured store by whoever holds it (as `jitca init` and `audit` are); every change is
 * written with its audit record in one transaction. A person has one login key and a key names
 * one person (the store keeps fingerprints unique), so a signature always says who signed.
 */

export interface AddLocalUser {
  name: string;
  groups: readonly string[];
  /** authorized_keys line (the .pub file's content); the comment is dropped. */
  publicKey: string;
  /** The operator who ran the command (their account on the CA host). */
  actor: string;
}

type UserStore = Pick<Store, 'findLocalUser' | 'listLocalUsers' | 'recordLocalUser' | 'recordLocalUserRemoval'>;

export async function addLocalUser(store: UserStore, request: AddLocalUser): Promise<LocalUser> {
  const name = checkLocalUserName(request.name);
  const groups = checkLocalGroups(request.groups);
  // Weak or malformed keys (short RSA, DSA, points off the curve) are refused by the parser.
  const key = parseSshPublicKey(request.publicKey.trim());
  if (await store.findLocalUser(name)) {
    throw new JitcaError(ErrorCodes.LOCAL_USER_CONFLICT, `a local user named ${name} is already registered; remove them first to change their key or groups`, {
      details: { name },
    });
  }
  const holder = (await store.listLocalUsers()).find((user) => user.fingerprint === key.fingerprint);
  if (holder !== undefined) {
    throw new JitcaError(ErrorCodes.LOCAL_USER_CONFLICT, `key ${key.fingerprint} is already the login key of ${holder.name}: a key names one person`, {
      details: { fingerprint: key.fingerprint },
    });
  }
  const user = { name, groups, fingerprint: key.fingerprint, publicKey: formatAuthorizedKeysLine(key), addedBy: request.actor };
  const record = await store.recordLocalUser({
    user,
    event: { type: 'user.added', actor: request.actor, subject: name, data: { groups, fingerprint: key.fingerprint, keyType: key.type } },
  });
  return { ...user, addedAt: record.at };
}

export async function removeLocalUser(store: UserStore, name: string, actor: string): Promise<void> {
  checkLocalUserName(name);
  const user = await store.findLocalUser(name);
  if (user === undefined) throw new JitcaError(ErrorCodes.LOCAL_USER_NOT_FOUND, `no local user ${name}`, { details: { name } });
  await store.recordLocalUserRemoval({
    name,
    event: { type: 'user.removed', actor, subject: name, data: { groups: user.groups, fingerprint: user.fingerprint } },
  });
}
