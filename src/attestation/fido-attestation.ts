import { createHash, verify, type KeyObject } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { decodePublicKeyBlob, formatAuthorizedKeysLine, type SshPublicKey } from '../ssh/public-key.ts';
import { readAttestationCertificate } from './attestation-certificate.ts';
import type { AttestationFacts } from './attestation-facts.ts';
import { parseAuthenticatorData, type AuthenticatorData, type CredentialKey } from './authenticator-data.ts';
import { verifyChain } from './certificate-chain.ts';
import { certificateAaguid, formatAaguid } from './fido-aaguid.ts';
import type { RootSet } from './root-set.ts';
import { parseSshSkAttestationBlob } from './ssh-sk-attestation-blob.ts';

export interface FidoAttestationInput {
  /** The file `ssh-keygen -O write-attestation=FILE` wrote. */
  blob: Uint8Array;
  /** The challenge the verifier chose and passed with `-O challenge=FILE`, as raw bytes. */
  challenge: Uint8Array;
  /** The sk-* public key that was generated with it (its .pub line). */
  sshKey: SshPublicKey;
}

/**
 * Verifies an OpenSSH security-key enrollment (`ssh-sk-attest-v01`), in this order:
 * the attestation certificate chains to `roots` (ERR_ATTESTATION_CHAIN); its key signed the
 * authenticator data and SHA-256(challenge) (or a 32-byte challenge itself: clientDataHashes),
 * as "packed" (authData ‖ clientDataHash) or, for a P-256 credential, "fido-u2f"
 * (0x00 ‖ rpIdHash ‖ clientDataHash ‖ credentialId ‖ 0x04 ‖ x ‖ y,
 * the U2F registration layout libfido2 verifies): the blob does not say which format it was, so
 * both are tried (ERR_ATTESTATION_CHALLENGE); the credential key is the SSH key
 * (ERR_ATTESTATION_KEY_MISMATCH); the RP ID hash is SHA-256 of the key's application and user
 * presence is set (ERR_ATTESTATION_AUTHENTICATOR). UV is reported, not required: a role asks for it.
 * A "packed" attestation whose certificate names an AAGUID (id-fido-gen-ce-aaguid) must be for
 * that model: the authenticator data's AAGUID equal to it (ERR_ATTESTATION_AUTHENTICATOR), as
 * WebAuthn §8.2 checks. The "fido-u2f" layout signs neither the AAGUID nor the flags (libfido2
 * writes a zero AAGUID and UP for a U2F device), so there is no AAGUID to compare and UV is
 * reported as not verified.
 *
 * A blob without an attestation certificate (fmt "none", or a self attestation signed by the
 * credential key itself) proves nothing about hardware: the key and authenticator data are still
 * checked, and the facts say attested: false.
 */
export function verifyFidoAttestation(input: FidoAttestationInput, roots: RootSet, now: Date): AttestationFacts {
  const blob = parseSshSkAttestationBlob(input.blob);
  const authData = parseAuthenticatorData(blob.authenticatorData);
  const material = decodePublicKeyBlob(input.sshKey.blob).material;
  if (material.kind !== 'sk-ed25519' && material.kind !== 'sk-ecdsa') {
    throw new JitcaError(ErrorCodes.ATTESTATION_KEY_MISMATCH, `a FIDO attestation is about a security key (sk-*), not a ${input.sshKey.type} key`);
  }
  let root: string | undefined;
  let format: SignedFormat | undefined;
  if (blob.certificate.length > 0) {
    const certificate = readAttestationCertificate(blob.certificate, 'FIDO attestation certificate');
    root = verifyChain([certificate], roots, now).name;
    format = clientDataHashes(input.challenge)
      .map((hash) => signedEnrollmentFormat(certificate.x509.publicKey, blob.signature, authData, hash))
      .find((signed) => signed !== undefined);
    if (format === undefined) {
      throw new JitcaError(
        ErrorCodes.ATTESTATION_CHALLENGE,
        'the enrollment signature does not verify over this authenticator data and challenge (another challenge, or altered data)',
      );
    }
    const model = format === 'packed' ? certificateAaguid(certificate) : undefined;
    if (model !== undefined && !Buffer.from(model).equals(authData.aaguid)) {
      throw new JitcaError(
        ErrorCodes.ATTESTATION_AUTHENTICATOR,
        `the authenticator data names model (AAGUID) ${formatAaguid(authData.aaguid)}, but its attestation certificate is for ${formatAaguid(model)}`,
      );
    }
  }
  const point = material.kind === 'sk-ed25519' ? material.publicKey : material.point;
  if (!Buffer.from(point).equals(credentialPoint(authData.credentialKey))) {
    throw new JitcaError(ErrorCodes.ATTESTATION_KEY_MISMATCH, 'the attested FIDO credential is not the SSH key given');
  }
  if (!createHash('sha256').update(material.application, 'latin1').digest().equals(authData.rpIdHash)) {
    throw new JitcaError(ErrorCodes.ATTESTATION_AUTHENTICATOR, `the authenticator data is for another application than the key's "${material.application}"`);
  }
  if (!authData.flags.up) throw new JitcaError(ErrorCodes.ATTESTATION_AUTHENTICATOR, 'the authenticator did not assert user presence (UP flag clear)');
  const facts: AttestationFacts = {
    kind: 'fido',
    attested: root !== undefined,
    flags: format === 'fido-u2f' ? { up: authData.flags.up, uv: false } : { ...authData.flags },
    publicKey: formatAuthorizedKeysLine(input.sshKey),
  };
  if (root !== undefined) facts.root = root;
  return facts;
}

/**
 * OpenSSH hashes the challenge into the client data hash since 8.7; 8.4 to 8.6 (Debian 11's 8.4p1
 * among them) passed the challenge itself, which libfido2 takes only when it is 32 bytes
 * (openssh-portable 59a194825, "Hash challenge supplied by client during FIDO key enrollment").
 * Either way the authenticator signed the verifier's own challenge, so both are accepted.
 */
function clientDataHashes(challenge: Uint8Array): Uint8Array[] {
  const hashed = createHash('sha256').update(challenge).digest();
  return challenge.length === 32 ? [hashed, challenge] : [hashed];
}

type SignedFormat = 'packed' | 'fido-u2f';

/** Which layout the attestation key signed, or undefined when neither verifies. */
function signedEnrollmentFormat(key: KeyObject, signature: Uint8Array, authData: AuthenticatorData, clientDataHash: Uint8Array): SignedFormat | undefined {
  const packed = Buffer.concat([authData.raw, clientDataHash]);
  if (verifies(key, packed, signature)) return 'packed';
  if (authData.credentialKey.kind !== 'p256') return undefined; // U2F keys are P-256 only
  const u2f = Buffer.concat([Uint8Array.of(0), authData.rpIdHash, clientDataHash, authData.credentialId, credentialPoint(authData.credentialKey)]);
  return verifies(key, u2f, signature) ? 'fido-u2f' : undefined;
}

function verifies(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key, signature);
  } catch {
    return false;
  }
}

/** The key as OpenSSH stores it: Ed25519's 32 bytes, or the uncompressed P-256 point. */
function credentialPoint(key: CredentialKey): Uint8Array {
  return key.kind === 'ed25519' ? key.x : Buffer.concat([Uint8Array.of(4), key.x, key.y]);
}
