/**
 * Proof that the person enrolling a key holds its private half: an SSHSIG (PROTOCOL.sshsig) over
 * the enrollment challenge's 32 bytes, in ENROLLMENT_NAMESPACE, made with the key being enrolled
 * (`jitca enroll` has ssh-agent make it, or `ssh-keygen -Y sign`). Public keys are public
 * (authorized_keys files, code hosts): without this anyone could enroll another person's key
 * first, and "one key, one person" would then lock its owner out of enrolling it.
 *
 * FIDO evidence already signs the CA's challenge with the attested credential, so it needs no
 * second signature. Everything else must bring one: a PIV slot attestation signs nothing the CA
 * chose (the device attests at any time, to anyone who asks); a PIV CSR is signed by the slot key
 * but over its own content, not the challenge, so a copy of it (a ticket, a shared folder) is
 * replayable by whoever holds it; and a plain key has no evidence at all.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { SshPublicKey } from '../ssh/public-key.ts';
import { parseArmouredSshSig, verifySshSig } from '../ssh/sshsig.ts';

/** The SSHSIG namespace of enrollment: a signature made for login (or anything else) never passes here. */
export const ENROLLMENT_NAMESPACE = 'jitca-enroll@jitca.dev';

/** Evidence kinds whose own signature covers the CA's fresh challenge, and so proves possession now. */
export function evidenceProvesPossession(kind: 'piv' | 'piv-csr' | 'fido' | undefined): boolean {
  return kind === 'fido';
}

/**
 * Refuses unless `armoured` is an SSHSIG by `key` over `challenge` in ENROLLMENT_NAMESPACE.
 * Absent -> ERR_KEY_POSSESSION_MISSING; anything wrong with it -> ERR_KEY_POSSESSION_INVALID
 * (not the ERR_AUTHN_* codes sshsig.ts answers with: the caller is authenticated, and a 401 would
 * send the helper to log in again).
 */
export function verifyPossession(armoured: string | undefined, key: SshPublicKey, challenge: Uint8Array): void {
  if (armoured === undefined) {
    throw new JitcaError(
      ErrorCodes.KEY_POSSESSION_MISSING,
      `enrolling a ${key.type} key without FIDO attestation needs a signature over the challenge with that key (ssh-keygen -Y sign -n ${ENROLLMENT_NAMESPACE}); jitca enroll makes it`,
      { details: { field: 'signature' } },
    );
  }
  try {
    const sig = parseArmouredSshSig(armoured);
    if (!Buffer.from(sig.publicKeyBlob).equals(key.blob)) throw invalid('the signature is made by another key than the one being enrolled');
    verifySshSig(sig, { namespace: ENROLLMENT_NAMESPACE, message: challenge });
  } catch (error) {
    if (error instanceof JitcaError && error.code !== ErrorCodes.KEY_POSSESSION_INVALID) throw invalid(error.message, error);
    throw error;
  }
}

function invalid(message: string, cause?: unknown): JitcaError {
  return new JitcaError(ErrorCodes.KEY_POSSESSION_INVALID, `${message}; sign this challenge with the key being enrolled`, {
    details: { field: 'signature' },
    ...(cause === undefined ? {} : { cause }),
  });
}
