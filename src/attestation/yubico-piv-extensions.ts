import { ErrorCodes, JitcaError } from '../errors.ts';
import { UniversalTag, decodeDer, expectUniversal } from '../x509/der-reader.ts';
import type { AttestationFacts, PivPinPolicy, PivTouchPolicy } from './attestation-facts.ts';

/** Yubico's PIV attestation extensions (developers.yubico.com, "PIV attestation"), arc 1.3.6.1.4.1.41482.3. */
export const YubicoPivOid = {
  firmware: '1.3.6.1.4.1.41482.3.3',
  serial: '1.3.6.1.4.1.41482.3.7',
  policy: '1.3.6.1.4.1.41482.3.8',
  formFactor: '1.3.6.1.4.1.41482.3.9',
  /** In a CSR: the slot attestation certificate (.3.11; older tools write .3.1) and the f9 certificate. */
  csrSlotCertificate: '1.3.6.1.4.1.41482.3.11',
  csrSlotCertificateLegacy: '1.3.6.1.4.1.41482.3.1',
  csrDeviceCertificate: '1.3.6.1.4.1.41482.3.2',
} as const;

/** yubikit/piv.py PIN_POLICY and TOUCH_POLICY, by value. */
const PIN_POLICIES: readonly PivPinPolicy[] = ['default', 'never', 'once', 'always', 'match-once', 'match-always'];
const TOUCH_POLICIES: readonly PivTouchPolicy[] = ['default', 'never', 'always', 'cached'];
/** yubikit/management.py FORM_FACTOR, the low six bits; 0x80 FIPS, 0x40 CSPN. */
const FORM_FACTORS = ['unknown', 'usb-a-keychain', 'usb-a-nano', 'usb-c-keychain', 'usb-c-nano', 'usb-c-lightning', 'usb-a-bio', 'usb-c-bio'];

type PivFacts = Pick<AttestationFacts, 'firmware' | 'serial' | 'pinPolicy' | 'touchPolicy' | 'formFactor'>;

/**
 * Decodes the device facts of a slot attestation certificate's extensions. Firmware, policy and
 * form factor are raw bytes in extnValue (not DER); the serial is a DER INTEGER. Each is optional
 * (a 4.3 device writes neither serial nor form factor); a present one with the wrong size or an
 * unknown policy value is ERR_ATTESTATION_MALFORMED: an unknown policy cannot be compared with a
 * role's floor, so it is refused rather than guessed.
 */
export function decodeYubicoPivExtensions(extensions: ReadonlyMap<string, { value: Uint8Array }>): PivFacts {
  const facts: PivFacts = {};
  const firmware = extensions.get(YubicoPivOid.firmware)?.value;
  if (firmware !== undefined) facts.firmware = Array.from(exactly(firmware, 3, 'firmware')).join('.');
  const serial = extensions.get(YubicoPivOid.serial)?.value;
  if (serial !== undefined) facts.serial = decodeSerial(serial);
  const policy = extensions.get(YubicoPivOid.policy)?.value;
  if (policy !== undefined) {
    const [pin = 0, touch = 0] = exactly(policy, 2, 'PIN and touch policy');
    facts.pinPolicy = known(PIN_POLICIES, pin, 'PIN policy');
    facts.touchPolicy = known(TOUCH_POLICIES, touch, 'touch policy');
  }
  const formFactor = extensions.get(YubicoPivOid.formFactor)?.value;
  if (formFactor !== undefined) {
    const [byte = 0] = exactly(formFactor, 1, 'form factor');
    facts.formFactor = { name: FORM_FACTORS[byte & 0x3f] ?? `unknown-${byte & 0x3f}`, fips: (byte & 0x80) !== 0, cspn: (byte & 0x40) !== 0 };
  }
  return facts;
}

function decodeSerial(value: Uint8Array): number {
  try {
    const integer = expectUniversal(decodeDer(value), UniversalTag.integer, 'serial').content;
    // Serials are 32-bit unsigned; a negative or longer INTEGER is no YubiKey's.
    if (integer.length > 5 || (integer[0] ?? 0) >= 0x80) throw new Error('out of range');
    return integer.reduce((total, byte) => total * 256 + byte, 0);
  } catch {
    throw malformed('device serial (1.3.6.1.4.1.41482.3.7) is not a DER INTEGER of a 32-bit serial');
  }
}

function exactly(value: Uint8Array, length: number, what: string): Uint8Array {
  if (value.length !== length) throw malformed(`${what} extension holds ${value.length} byte(s), expected ${length}`);
  return value;
}

function known<T>(names: readonly T[], value: number, what: string): T {
  const name = names[value];
  if (name === undefined) throw malformed(`${what} value ${value} is not one yubikit knows`);
  return name;
}

function malformed(message: string): JitcaError {
  return new JitcaError(ErrorCodes.ATTESTATION_MALFORMED, `YubiKey attestation: ${message}`);
}
