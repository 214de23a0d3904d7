import { hash } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { decodeBase64Strict, encodeBase64 } from './base64.ts';
import { decodePublicKeyBlob } from './public-key.ts';
import { decodeSshSignature, verifySshSignature } from './signature.ts';
import { decodeSkSignature, SK_FLAG_USER_PRESENT, verifySkSignature } from './sk-signature.ts';
import { SshReader, SshWriter } from './wire.ts';

/**
 * OpenSSH's detached signatures (PROTOCOL.sshsig), what `ssh-keygen -Y sign -n NAMESPACE` writes
 * and what jitca's local login verifies:
 *   byte[6] "SSHSIG"  uint32 version (1)  string publickey  string namespace  string reserved
 *   string hash_algorithm  string signature
 * The key signs not the message but
 *   byte[6] "SSHSIG"  string namespace  string reserved  string hash_algorithm  string H(message)
 * so a signature made for one namespace (one purpose) never verifies for another.
 */

const MAGIC = Buffer.from('SSHSIG', 'latin1');
const VERSION = 1;
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
/** jitca asks for SHA-512, ssh-keygen's default; "sha256" is allowed by the format but not here. */
export const SSHSIG_HASH = 'sha512';
/** An armoured signature is under 1 KiB for every key type jitca accepts for login. */
export const MAX_SSHSIG_INPUT_BYTES = 8 * 1024;

export interface SshSig {
  publicKeyBlob: Uint8Array;
  namespace: string;
  hashAlgorithm: string;
  signature: Uint8Array;
}

/** What the signer's key signs (the agent's sign request carries exactly these bytes). */
export function sshsigSignedData(namespace: string, message: Uint8Array): Uint8Array {
  return new SshWriter(128)
    .writeRaw(MAGIC)
    .writeString(namespace)
    .writeString(new Uint8Array(0))
    .writeString(SSHSIG_HASH)
    .writeString(hash(SSHSIG_HASH, message, 'buffer'))
    .toBytes();
}

/** The armoured form ssh-keygen writes, for a signature made through ssh-agent. */
export function armourSshSig(sig: Omit<SshSig, 'hashAlgorithm'>): string {
  const blob = new SshWriter(512)
    .writeRaw(MAGIC)
    .writeUint32(VERSION)
    .writeString(sig.publicKeyBlob)
    .writeString(sig.namespace)
    .writeString(new Uint8Array(0))
    .writeString(SSHSIG_HASH)
    .writeString(sig.signature)
    .toBytes();
  const lines = encodeBase64(blob).match(/.{1,70}/g) ?? [];
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}

export function parseArmouredSshSig(text: string): SshSig {
  if (typeof text !== 'string' || Buffer.byteLength(text, 'utf8') > MAX_SSHSIG_INPUT_BYTES) {
    throw malformed(`an SSH signature is armoured text of at most ${MAX_SSHSIG_INPUT_BYTES} bytes`);
  }
  const trimmed = text.trim();
  if (!trimmed.startsWith(BEGIN) || !trimmed.endsWith(END)) {
    throw malformed(`an SSH signature starts with "${BEGIN}" and ends with "${END}" (ssh-keygen -Y sign output)`);
  }
  const body = trimmed.slice(BEGIN.length, trimmed.length - END.length).replace(/\r?\n/g, '');
  const blob = decodeBase64Strict(body);
  if (blob === undefined) throw malformed('the SSH signature body is not base64');
  try {
    return decodeSshSigBlob(blob);
  } catch (error) {
    if (error instanceof JitcaError && error.code !== ErrorCodes.AUTHN_MALFORMED) throw malformed(error.message);
    throw error;
  }
}

function decodeSshSigBlob(blob: Uint8Array): SshSig {
  const reader = new SshReader(blob);
  if (!MAGIC.equals(reader.readBytes(MAGIC.length))) throw malformed('not an SSHSIG blob (no "SSHSIG" preamble)');
  const version = reader.readUint32();
  if (version !== VERSION) throw malformed(`SSHSIG version ${version} is not supported (only ${VERSION})`);
  const publicKeyBlob = reader.readString();
  const namespace = Buffer.from(reader.readString()).toString('latin1');
  reader.readString(); // reserved: OpenSSH ignores its content, so does jitca
  const hashAlgorithm = Buffer.from(reader.readString()).toString('latin1');
  const signature = reader.readString();
  reader.ensureEnd('SSHSIG blob');
  return { publicKeyBlob, namespace, hashAlgorithm, signature };
}

export interface SshSigExpectation {
  /** The only namespace accepted (e.g. "jitca-login@example.org"). */
  namespace: string;
  message: Uint8Array;
}

/**
 * Verifies `sig` over `message` in `namespace`; returns the signer's key blob for the caller to
 * look up. Security-key signatures must say a person touched the key (user presence): otherwise
 * malware holding an unlocked authenticator could log in silently.
 */
export function verifySshSig(sig: SshSig, expected: SshSigExpectation): Uint8Array {
  if (sig.namespace !== expected.namespace) {
    throw refused(`the signature is for namespace ${JSON.stringify(sig.namespace.slice(0, 64))}, not ${JSON.stringify(expected.namespace)}`);
  }
  if (sig.hashAlgorithm !== SSHSIG_HASH) {
    throw refused(`the signature uses hash ${JSON.stringify(sig.hashAlgorithm.slice(0, 16))}; jitca accepts ${SSHSIG_HASH} only`);
  }
  const { material } = decodePublicKeyBlob(sig.publicKeyBlob);
  const signed = sshsigSignedData(sig.namespace, expected.message);
  if (material.kind === 'sk-ed25519' || material.kind === 'sk-ecdsa') {
    const sk = decodeSkSignature(sig.signature);
    if (!verifySkSignature(material, sk, signed)) throw refused('the signature does not verify with the key it names');
    if ((sk.flags & SK_FLAG_USER_PRESENT) === 0) {
      throw refused('the security key signed without user presence (no touch); sign again and touch the key');
    }
    return sig.publicKeyBlob;
  }
  if (!verifySshSignature(sig.publicKeyBlob, decodeSshSignature(sig.signature), signed)) {
    throw refused('the signature does not verify with the key it names');
  }
  return sig.publicKeyBlob;
}

function malformed(message: string): JitcaError {
  return new JitcaError(ErrorCodes.AUTHN_MALFORMED, message);
}

function refused(message: string): JitcaError {
  return new JitcaError(ErrorCodes.AUTHN_SIGNATURE, message);
}
