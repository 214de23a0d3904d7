import { readAttestationCertificate } from '../attestation/attestation-certificate.ts';
import { verifyFidoAttestation } from '../attestation/fido-attestation.ts';
import type { GivenPublicKey } from '../attestation/given-public-key.ts';
import { verifyPivAttestation } from '../attestation/piv-attestation.ts';
import { verifyPivCsrAttestation } from '../attestation/piv-csr-attestation.ts';
import type { AttestationTrust } from '../attestation/root-set.ts';
import { MAX_SSH_SK_ATTESTATION_BYTES } from '../attestation/ssh-sk-attestation-blob.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { decodeBase64Strict } from '../ssh/base64.ts';
import { sshPublicKeyToKeyObject, type SshPublicKey } from '../ssh/public-key.ts';
import type { AttestationVerifier } from './attestation-verifier.ts';

/**
 * The verifier `serve` gives enrollment: the PIV and FIDO verifiers of src/attestation against
 * `trust` (the shipped Yubico roots and the operator's own), each bound to the key being enrolled.
 * FIDO evidence also answers the challenge enrollment issued; PIV evidence carries no challenge
 * (the device signs none), so a slot attestation comes with a possession signature, which
 * enrollment checks before it asks this verifier (possession-proof.ts).
 */
export function hardwareAttestationVerifier(trust: AttestationTrust, now: () => Date): AttestationVerifier {
  return {
    verify(evidence, publicKey, challenge) {
      switch (evidence.kind) {
        case 'piv':
          return verifyPivAttestation(
            {
              slot: readAttestationCertificate(evidence.slotCertificate, 'PIV slot attestation certificate'),
              f9: readAttestationCertificate(evidence.f9Certificate, 'PIV f9 certificate'),
              expectedKey: given(publicKey),
            },
            trust.piv,
            now(),
          );
        case 'piv-csr':
          return verifyPivCsrAttestation(evidence.csr, trust.piv, now(), given(publicKey));
        case 'fido': {
          const blob = decodeBase64Strict(evidence.attestation);
          if (blob === undefined || blob.length > MAX_SSH_SK_ATTESTATION_BYTES) {
            throw new JitcaError(ErrorCodes.ATTESTATION_MALFORMED, `the FIDO attestation must be base64 of at most ${MAX_SSH_SK_ATTESTATION_BYTES} bytes`);
          }
          return verifyFidoAttestation({ blob, challenge, sshKey: publicKey }, trust.fido, now());
        }
      }
    },
  };
}

function given(publicKey: SshPublicKey): GivenPublicKey {
  // A PIV slot never holds a FIDO credential.
  if (publicKey.isSecurityKey) throw new JitcaError(ErrorCodes.ATTESTATION_KEY_MISMATCH, `a PIV attestation cannot be about a security key (${publicKey.type})`);
  return { form: 'ssh', ssh: publicKey, publicKey: sshPublicKeyToKeyObject(publicKey) };
}
