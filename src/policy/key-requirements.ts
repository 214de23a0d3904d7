/**
 * What a role may require of the key it certifies beyond its type: that it was enrolled (bound to
 * the person), that its enrollment was attested by PIV or FIDO hardware, and the hardware
 * properties the attestation proved. Pure: the issuance pipeline looks up the enrollment of the
 * request's key (owned by the caller) and passes its facts in; nothing here reads the store.
 */
import type { KeyEnrollmentFacts, KeyRequirements, Role, SubjectKey } from './types.ts';

export interface KeyRefusal {
  /** Stable rule name: key.enrolled, key.attested, key.pin-policy, key.touch-policy, key.user-verification, key.firmware, key.root. */
  rule: string;
  message: string;
}

/**
 * PIN policies by strength. "default" is the slot's default, which an attestation does not
 * resolve, so it counts as the weakest; the Bio values match the PIN values they stand in for.
 */
const PIN_STRENGTH: Readonly<Record<string, number>> = { default: 0, never: 0, once: 1, 'match-once': 1, always: 2, 'match-always': 2 };
const TOUCH_STRENGTH: Readonly<Record<string, number>> = { default: 0, never: 0, cached: 1, always: 2 };

/** The first requirement of role.key the key does not meet, or undefined when it meets them all. */
export function keyRequirementRefusal(role: Role, key: SubjectKey): KeyRefusal | undefined {
  const wanted = role.key;
  if (wanted === undefined || !requiresEnrollment(wanted)) return undefined;
  const facts = key.enrollment;
  if (facts === undefined) {
    return refuse('key.enrolled', `role ${role.name} requires a key you enrolled (jitca enroll); this key is not enrolled to you`);
  }
  if (wanted.attested !== undefined) {
    const kinds = wanted.attested === 'either' ? ['piv', 'fido'] : [wanted.attested];
    if (!facts.attested || !kinds.includes(facts.kind)) {
      return refuse(
        'key.attested',
        `role ${role.name} requires a key attested by ${kinds.join(' or ')} hardware; this key is enrolled as ${describe(facts)}`,
      );
    }
  }
  if (wanted.minPinPolicy !== undefined && !atLeast(PIN_STRENGTH, facts.kind === 'piv' ? facts.pinPolicy : undefined, wanted.minPinPolicy)) {
    return refuse('key.pin-policy', `role ${role.name} requires a PIV PIN policy of at least ${wanted.minPinPolicy}; this key has ${facts.pinPolicy ?? 'none attested'}`);
  }
  if (wanted.minTouchPolicy !== undefined && !atLeast(TOUCH_STRENGTH, facts.kind === 'piv' ? facts.touchPolicy : undefined, wanted.minTouchPolicy)) {
    return refuse('key.touch-policy', `role ${role.name} requires a PIV touch policy of at least ${wanted.minTouchPolicy}; this key has ${facts.touchPolicy ?? 'none attested'}`);
  }
  if (wanted.userVerification === true && !(facts.kind === 'fido' && facts.attested && facts.flags?.uv === true)) {
    return refuse('key.user-verification', `role ${role.name} requires a FIDO key made with user verification (ssh-keygen -O verify-required); this key's attestation does not show it`);
  }
  if (wanted.minFirmware !== undefined && !firmwareAtLeast(facts.firmware, wanted.minFirmware)) {
    return refuse('key.firmware', `role ${role.name} requires firmware ${wanted.minFirmware} or later; this key's is ${facts.firmware ?? 'not attested'}`);
  }
  if (wanted.roots !== undefined && (facts.root === undefined || !wanted.roots.includes(facts.root))) {
    return refuse('key.root', `role ${role.name} accepts attestations from ${wanted.roots.join('; ')} only; this key's root is ${facts.root ?? 'none'}`);
  }
  return undefined;
}

/** Every hardware requirement implies enrollment: facts exist only for enrolled keys. */
export function requiresEnrollment(wanted: KeyRequirements): boolean {
  return (
    wanted.enrolled === true ||
    wanted.attested !== undefined ||
    wanted.minPinPolicy !== undefined ||
    wanted.minTouchPolicy !== undefined ||
    wanted.userVerification === true ||
    wanted.minFirmware !== undefined ||
    wanted.roots !== undefined
  );
}

function atLeast(strength: Readonly<Record<string, number>>, actual: string | undefined, minimum: string): boolean {
  if (actual === undefined || !Object.hasOwn(strength, actual)) return false;
  return (strength[actual] ?? 0) >= (strength[minimum] ?? Number.POSITIVE_INFINITY);
}

const FIRMWARE = /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})$/;

/** "5.7.4" against "5.4.3", numerically per part; an absent or malformed version never passes. */
export function firmwareAtLeast(actual: string | undefined, minimum: string): boolean {
  const have = actual === undefined ? null : FIRMWARE.exec(actual);
  const need = FIRMWARE.exec(minimum);
  if (have === null || need === null) return false;
  for (let part = 1; part <= 3; part++) {
    const difference = Number(have[part]) - Number(need[part]);
    if (difference !== 0) return difference > 0;
  }
  return true;
}

function describe(facts: KeyEnrollmentFacts): string {
  if (facts.kind === 'software') return 'a software key (no attestation)';
  return `${facts.kind}${facts.attested ? '' : ' without attestation'}`;
}

function refuse(rule: string, message: string): KeyRefusal {
  return { rule, message };
}
