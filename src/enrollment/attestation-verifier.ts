/**
 * The seam between enrollment and the attestation verifiers (src/attestation/): enrollment hands
 * over the evidence the engineer sent, the key being enrolled and the challenge it was issued,
 * and gets AttestationFacts back or a JitcaError. The verifiers are pure; choosing them (and their
 * root sets) is the composition root's business, so enrollment names none of them.
 */
import type { AttestationFacts } from '../attestation/attestation-facts.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { SshPublicKey } from '../ssh/public-key.ts';

/** What the engineer sends as proof of hardware, as the helper read it (PEM text, base64 blobs). */
export type AttestationEvidence =
  /** YubiKey PIV: the slot's attestation certificate and the device's f9 certificate. */
  | { kind: 'piv'; slotCertificate: string; f9Certificate: string }
  /** A PKCS#10 request carrying the PIV attestation in its extensions. */
  | { kind: 'piv-csr'; csr: string }
  /** ssh-keygen -O write-attestation output (ssh-sk-attest-v01), base64. */
  | { kind: 'fido'; attestation: string };

export interface AttestationVerifier {
  verify(evidence: AttestationEvidence, publicKey: SshPublicKey, challenge: Uint8Array): AttestationFacts;
}

/**
 * The verifier enrollment uses until the PIV and FIDO verifiers are wired in: it verifies nothing,
 * so every piece of evidence is refused (a key enrolled without evidence is a software key and
 * never reaches a verifier).
 */
export const noAttestationVerifier: AttestationVerifier = {
  verify(evidence) {
    throw new JitcaError(
      ErrorCodes.ATTESTATION_UNSUPPORTED,
      `this CA does not verify ${evidence.kind} attestations yet; enroll the key without attestation (a software key)`,
      { details: { kind: evidence.kind } },
    );
  },
};
