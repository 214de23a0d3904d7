import { freshRandomBytes } from './random-pool.ts';
import type { Signer } from '../keys/signer.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import {
  criticalOptionsToList,
  extensionsToList,
  hasControlCharacter,
  writeOptionList,
  type CertificateCriticalOptions,
} from './certificate-options.ts';
import { certificateTypeFor, SSH_CERT_TYPE_USER } from './certificate-types.ts';
import { writeKeyMaterial } from './key-material.ts';
import { decodePublicKeyBlob, formatAuthorizedKeysLine, type SshPublicKey } from './public-key.ts';
import { signAsSsh, sshCaKey } from './signature.ts';
import { SshWriter } from './wire.ts';

export { parseCertificate, MAX_CERTIFICATE_INPUT_BYTES, type ParsedSshCertificate } from './certificate-parse.ts';
export { SSH_CERT_TYPE_HOST, SSH_CERT_TYPE_USER } from './certificate-types.ts';
export type { CertificateCriticalOptions, SshCertificateOption } from './certificate-options.ts';

export interface UserCertificateParams {
  subject: SshPublicKey;
  /** 0 <= serial < 2^64. */
  serial: bigint;
  /** Logged by sshd on every login with this certificate. */
  keyId: string;
  principals: string[];
  /** Seconds since the epoch; valid when validAfter <= now < validBefore. */
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions?: CertificateCriticalOptions;
  /** Flag extensions: the standard ones (permit-pty, ...) or custom name@domain flags. */
  extensions: string[];
  /** Valued custom extensions, name@domain -> value (data = string(value)). */
  customExtensions?: Record<string, string>;
  /** Defaults to 32 random bytes; tests may fix it. At least 16 bytes. */
  nonce?: Uint8Array;
}

export interface IssuedSshCertificate {
  /** e.g. "ssh-ed25519-cert-v01@openssh.com". */
  type: string;
  blob: Uint8Array;
  /** "type base64 [comment]", the content of <key>-cert.pub (no trailing newline). */
  line: string;
}

const UINT64_MAX = (1n << 64n) - 1n;
/** OpenSSH refuses certificates with more principals (SSHKEY_CERT_MAX_PRINCIPALS). */
export const MAX_PRINCIPALS = 256;
const MAX_KEY_ID_LENGTH = 1024;
const MAX_PRINCIPAL_LENGTH = 256;
const NONCE_LENGTH = 32;
/** Room left for the CA key and signature below the parser's size limit. */
const MAX_UNSIGNED_BYTES = 28 * 1024;

/**
 * Builds and signs an OpenSSH user certificate (PROTOCOL.certkeys). Pure apart from the CA signature
 * and the random nonce: every field comes from `params`, so policy decisions stay with the caller.
 */
export async function buildUserCertificate(params: UserCertificateParams, ca: Signer): Promise<IssuedSshCertificate> {
  validateParams(params);
  if (!(params.subject?.blob instanceof Uint8Array)) throw invalid('subject must be a parsed SSH public key');
  // Re-decode: the blob is what gets certified, so it is checked here rather than trusted.
  const { type: keyType, material } = decodePublicKeyBlob(params.subject.blob);
  if (params.subject.type !== keyType) throw invalid(`subject type ${params.subject.type} does not match its blob (${keyType})`);
  const criticalOptions = criticalOptionsToList(params.criticalOptions);
  const extensions = extensionsToList(params.extensions, params.customExtensions);
  const caKey = sshCaKey(ca.publicKey);

  const certType = certificateTypeFor(keyType);
  const { principals } = params;
  // Sized for a typical certificate so the buffer rarely grows; the signature is appended to the
  // same writer afterwards.
  const writer = new SshWriter(params.subject.blob.length + caKey.blob.length + 1024)
    .writeString(certType)
    .writeString(params.nonce ?? freshRandomBytes(NONCE_LENGTH));
  writeKeyMaterial(writer, material);
  writer
    .writeUint64(params.serial)
    .writeUint32(SSH_CERT_TYPE_USER)
    .writeString(params.keyId)
    .writeNestedString((list) => {
      for (const principal of principals) list.writeString(principal);
    })
    .writeUint64(params.validAfter)
    .writeUint64(params.validBefore)
    .writeNestedString((section) => writeOptionList(section, criticalOptions))
    .writeNestedString((section) => writeOptionList(section, extensions))
    .writeUint32(0) // reserved: an empty string
    .writeString(caKey.blob);
  if (writer.length > MAX_UNSIGNED_BYTES) {
    throw invalid(`certificate would be ${writer.length} bytes before signing; at most ${MAX_UNSIGNED_BYTES} are allowed`);
  }
  // "signature is computed over all preceding fields from the initial string up to, and including
  // the signature key" (PROTOCOL.certkeys).
  const signed = writer.toBytes();
  const signature = await signAsSsh(ca, signed);
  const blob = writer.writeString(signature).toBytes();
  return { type: certType, blob, line: formatAuthorizedKeysLine({ type: certType, blob }, params.subject.comment) };
}

function validateParams(params: UserCertificateParams): void {
  if (typeof params.serial !== 'bigint' || params.serial < 0n || params.serial > UINT64_MAX) {
    throw invalid('serial must be a bigint in 0..2^64-1');
  }
  if (typeof params.keyId !== 'string' || params.keyId.length === 0 || params.keyId.length > MAX_KEY_ID_LENGTH) {
    throw invalid(`keyId must be a string of 1..${MAX_KEY_ID_LENGTH} characters`);
  }
  if (hasControlCharacter(params.keyId)) throw invalid('keyId must not contain control characters (NUL, newlines, ...)');
  validatePrincipals(params.principals);
  for (const [name, value] of [
    ['validAfter', params.validAfter],
    ['validBefore', params.validBefore],
  ] as const) {
    if (typeof value !== 'bigint' || value < 0n || value > UINT64_MAX) {
      throw invalid(`${name} must be a bigint of seconds since the epoch in 0..2^64-1`);
    }
  }
  if (params.validAfter >= params.validBefore) throw invalid('validAfter must be earlier than validBefore');
  if (params.nonce !== undefined && (!(params.nonce instanceof Uint8Array) || params.nonce.length < 16 || params.nonce.length > 256)) {
    throw invalid('nonce must be 16..256 bytes');
  }
}

function validatePrincipals(principals: unknown): void {
  if (!Array.isArray(principals) || principals.length === 0) {
    // PROTOCOL.certkeys: an empty list means "any principal" — never what a JIT grant wants.
    throw invalid('principals must be a non-empty list (an empty list would allow every user)');
  }
  if (principals.length > MAX_PRINCIPALS) throw invalid(`at most ${MAX_PRINCIPALS} principals are allowed`);
  const seen = new Set<string>();
  for (const principal of principals) {
    if (typeof principal !== 'string' || principal.length === 0 || principal.length > MAX_PRINCIPAL_LENGTH) {
      throw invalid(`each principal must be a string of 1..${MAX_PRINCIPAL_LENGTH} characters`);
    }
    // Commas separate principals in ssh-keygen -n and AuthorizedPrincipals matching; control
    // characters would forge log lines.
    if (principal.includes(',') || hasControlCharacter(principal)) {
      throw invalid(`principal ${JSON.stringify(principal.slice(0, 64))} must not contain commas or control characters`);
    }
    if (seen.has(principal)) throw invalid(`principal ${JSON.stringify(principal.slice(0, 64))} is listed twice`);
    seen.add(principal);
  }
}

function invalid(message: string): JitcaError {
  return new JitcaError(ErrorCodes.REQUEST_INVALID, message);
}
