import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * What a local identity (`jitca users add`) may be called. An administrator types these, so the
 * rule is stricter than for an IdP's claims (identity-claims.ts): the name becomes the session's
 * subject, hence certificate principals, key IDs, audit records and Kubernetes usernames, and a
 * POSIX-login-like alphabet is safe in all of them. Groups allow what IdPs commonly emit
 * ("sre", "team:payments", "org/platform") and never Kubernetes' reserved "system:" prefix.
 */

export const LOCAL_NAME_MAX_LENGTH = 64;
export const LOCAL_GROUP_MAX_LENGTH = 128;
/** More groups than this is a policy smell, and each one travels in every session token. */
export const LOCAL_GROUPS_MAX = 32;

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const GROUP = /^[A-Za-z0-9][A-Za-z0-9._:@/-]*$/;

export function checkLocalUserName(name: string): string {
  if (name.length === 0 || name.length > LOCAL_NAME_MAX_LENGTH || !NAME.test(name)) {
    throw invalid(`user name must be 1 to ${LOCAL_NAME_MAX_LENGTH} characters of a-z, 0-9, ".", "_", "-", starting with a letter or digit`, 'name');
  }
  return name;
}

/** Validated, de-duplicated and sorted, so the same set is always stored and audited the same way. */
export function checkLocalGroups(groups: readonly string[]): string[] {
  if (groups.length === 0) throw invalid('a local user needs at least one --group (policy grants by group)', 'groups');
  for (const group of groups) {
    if (group.length === 0 || group.length > LOCAL_GROUP_MAX_LENGTH || !GROUP.test(group)) {
      throw invalid(`group must be 1 to ${LOCAL_GROUP_MAX_LENGTH} characters of A-Z, a-z, 0-9, ".", "_", ":", "@", "/", "-", starting with a letter or digit`, 'groups');
    }
    if (group.toLowerCase().startsWith('system:')) throw invalid('group uses the reserved "system:" prefix', 'groups');
  }
  const unique = [...new Set(groups)].sort();
  if (unique.length > LOCAL_GROUPS_MAX) throw invalid(`a local user has at most ${LOCAL_GROUPS_MAX} groups`, 'groups');
  return unique;
}

function invalid(message: string, field: string): JitcaError {
  return new JitcaError(ErrorCodes.REQUEST_INVALID, message, { details: { field } });
}
