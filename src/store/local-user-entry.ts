/**
 * Checks a local user's registration or removal before it is queued (as entry-validation.ts does
 * for the other entries), so a malformed one is ERR_REQUEST_INVALID alone and never reaches a
 * shared transaction.
 */
import { invalid, prepareEvent, text } from './entry-validation.ts';
import type { PreparedEntry } from './entry-validation.ts';
import type { LocalUserEntry, LocalUserRemovalEntry } from './types.ts';

const MAX_GROUPS = 64;

export function prepareLocalUserEntry(entry: LocalUserEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null || typeof entry.user !== 'object' || entry.user === null) throw invalid('user', 'must be an object');
  const user = entry.user;
  if (!Array.isArray(user.groups) || user.groups.length === 0 || user.groups.length > MAX_GROUPS) {
    throw invalid('user.groups', `must be an array of 1 to ${MAX_GROUPS} group names`);
  }
  return {
    localUser: {
      name: text(user.name, 'user.name', 256),
      groups: user.groups.map((group, index) => text(group, `user.groups[${index}]`, 256)),
      fingerprint: text(user.fingerprint, 'user.fingerprint', 128),
      publicKey: text(user.publicKey, 'user.publicKey', 16384),
      addedBy: text(user.addedBy, 'user.addedBy', 256),
    },
    event: prepareEvent(entry.event),
  };
}

export function prepareLocalUserRemovalEntry(entry: LocalUserRemovalEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null) throw invalid('entry', 'must be an object');
  return { removedLocalUser: text(entry.name, 'name', 256), event: prepareEvent(entry.event) };
}
