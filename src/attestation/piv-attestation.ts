import { ErrorCodes, JitcaError } from '../errors.ts';
import { formatAuthorizedKeysLine, sshPublicKeyFromKeyObject } from '../ssh/public-key.ts';
import type { AttestationCertificate } from './attestation-certificate.ts';
import type { AttestationFacts } from './attestation-facts.ts';
import { verifyChain } from './certificate-chain.ts';
import { assertGivenIsAttested, type GivenPublicKey } from './given-public-key.ts';
import type { RootSet } from './root-set.ts';
import { decodeYubicoPivExtensions } from './yubico-piv-extensions.ts';

export interface PivAttestationInput {
  /** The slot's attestation certificate (`ykman piv keys attest`), signed by the f9 key. */
  slot: AttestationCertificate;
  /** The device's f9 certificate (`ykman piv certificates export f9`). */
  f9: AttestationCertificate;
  /** When given, the attested key must be this key. */
  expectedKey?: GivenPublicKey;
}

/**
 * Verifies a YubiKey PIV attestation: slot -> f9 -> (shipped intermediates) -> a root of `roots`,
 * link by link (verifyChain), then decodes the slot certificate's Yubico extensions. The key in
 * the slot certificate is the attested key; a key imported into the slot gets no attestation
 * certificate at all, so a verified one means the key was generated on the device.
 * Errors: ERR_ATTESTATION_CHAIN, ERR_ATTESTATION_MALFORMED, ERR_ATTESTATION_KEY_MISMATCH, and the
 * ERR_KEY_* codes for a slot key jitca would not certify anyway (RSA-1024).
 */
export function verifyPivAttestation(input: PivAttestationInput, roots: RootSet, now: Date): AttestationFacts {
  checkShape(input, roots);
  const root = verifyChain([input.slot, input.f9], roots, now);
  const attested = input.slot.x509.publicKey;
  assertGivenIsAttested(input.expectedKey, attested, 'PIV slot key');
  return {
    kind: 'piv',
    attested: true,
    root: root.name,
    ...decodeYubicoPivExtensions(input.slot.fields.extensions),
    publicKey: formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(attested)),
  };
}

/**
 * The two certificates must be what they claim: a chain one step higher (an f9 certificate given
 * as the slot, a Yubico intermediate or root given as the f9) verifies too, and would "attest"
 * a key that belongs to a device or to Yubico. So the slot certificate is not a CA, and the f9 is
 * none of the set's own certificates.
 */
function checkShape(input: PivAttestationInput, roots: RootSet): void {
  if (input.slot.fields.basicConstraints?.ca === true) {
    throw new JitcaError(ErrorCodes.ATTESTATION_CHAIN, `"${input.slot.name}" is a CA certificate, not a slot attestation`);
  }
  const f9 = Buffer.from(input.f9.der);
  if ([...roots.roots, ...roots.intermediates].some((known) => f9.equals(known.der))) {
    throw new JitcaError(ErrorCodes.ATTESTATION_CHAIN, `"${input.f9.name}" is a root or intermediate, not a device's f9 certificate`);
  }
}
