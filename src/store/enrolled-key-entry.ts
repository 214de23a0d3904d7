/**
 * Checks an enrollment or removal before it is queued (as entry-validation.ts does for the other
 * entries), so a malformed one is ERR_REQUEST_INVALID alone and never reaches a shared transaction.
 */
import { invalid, oneOf, prepareEvent, text } from './entry-validation.ts';
import type { PreparedEntry } from './entry-validation.ts';
import type { EnrolledKey, EnrolledKeyKind, KeyEnrollmentEntry, KeyRemovalEntry } from './types.ts';

const KINDS = { software: true, piv: true, fido: true } as const satisfies Record<EnrolledKeyKind, true>;

export function prepareKeyEnrollmentEntry(entry: KeyEnrollmentEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null || typeof entry.key !== 'object' || entry.key === null) throw invalid('key', 'must be an object');
  const key = entry.key;
  if (typeof key.attested !== 'boolean') throw invalid('key.attested', 'must be a boolean');
  if (key.serial !== undefined && (!Number.isSafeInteger(key.serial) || key.serial < 0 || key.serial > 0x7fffffff)) {
    throw invalid('key.serial', 'must be an integer from 0 to 2^31-1');
  }
  const flags = key.flags;
  if (flags !== undefined && (typeof flags.up !== 'boolean' || typeof flags.uv !== 'boolean')) throw invalid('key.flags', 'must be {up, uv} booleans');
  const prepared: Omit<EnrolledKey, 'enrolledAt'> = {
    id: text(key.id, 'key.id', 64),
    owner: text(key.owner, 'key.owner'),
    fingerprint: text(key.fingerprint, 'key.fingerprint', 128),
    publicKey: text(key.publicKey, 'key.publicKey', 16384),
    kind: oneOf(key.kind, KINDS, 'key.kind'),
    attested: key.attested,
    ...(key.root === undefined ? {} : { root: text(key.root, 'key.root') }),
    ...(key.serial === undefined ? {} : { serial: key.serial }),
    ...(key.firmware === undefined ? {} : { firmware: text(key.firmware, 'key.firmware', 32) }),
    ...(key.pinPolicy === undefined ? {} : { pinPolicy: text(key.pinPolicy, 'key.pinPolicy', 32) }),
    ...(key.touchPolicy === undefined ? {} : { touchPolicy: text(key.touchPolicy, 'key.touchPolicy', 32) }),
    ...(key.formFactor === undefined
      ? {}
      : { formFactor: { name: text(key.formFactor.name, 'key.formFactor.name', 64), fips: key.formFactor.fips === true, cspn: key.formFactor.cspn === true } }),
    ...(flags === undefined ? {} : { flags: { up: flags.up, uv: flags.uv } }),
  };
  return { enrolledKey: prepared, event: prepareEvent(entry.event) };
}

export function prepareKeyRemovalEntry(entry: KeyRemovalEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null) throw invalid('entry', 'must be an object');
  return { removedKey: { id: text(entry.id, 'id', 64), owner: text(entry.owner, 'owner') }, event: prepareEvent(entry.event) };
}
