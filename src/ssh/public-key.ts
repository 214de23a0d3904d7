import { createPublicKey, hash, type KeyObject } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { encodeBase64 } from './base64.ts';
import {
  assertSupportedKeyType,
  keyMaterialBits,
  keyMaterialToKeyObject,
  readKeyMaterial,
  writeKeyMaterial,
  type KeyMaterial,
  type SshKeyType,
} from './key-material.ts';
import { splitKeyLine } from './key-line.ts';
import { SshReader, SshWriter } from './wire.ts';

export interface SshPublicKey {
  /** Key type name, e.g. "ssh-ed25519" or "sk-ssh-ed25519@openssh.com". */
  type: string;
  /** Wire blob (RFC 4253 §6.6), exactly as base64-encoded in an authorized_keys line. */
  blob: Uint8Array;
  comment?: string;
  /** "SHA256:<base64 without padding>", as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** Key size as `ssh-keygen -l` prints it (256 for Ed25519, the modulus size for RSA). */
  bits: number;
  /** sk-* types: the private key lives on a FIDO authenticator (PROTOCOL.u2f). */
  isSecurityKey: boolean;
  /** sk-* types only: the FIDO application (relying party) string, normally "ssh:". */
  application?: string;
}

/** Public keys are a few hundred bytes (RSA-16384 is about 2 KiB); anything larger is refused. */
export const MAX_PUBLIC_KEY_INPUT_BYTES = 16 * 1024;

/**
 * Parses one authorized_keys-style line ("type base64 [comment]") or a raw wire blob. Options
 * before the key type (command="...", from="...") are not accepted: jitca certifies keys, it does
 * not copy authorized_keys policy.
 */
export function parseSshPublicKey(input: string | Uint8Array): SshPublicKey {
  if (typeof input !== 'string') {
    if (!(input instanceof Uint8Array)) throw new JitcaError(ErrorCodes.KEY_MALFORMED, 'public key must be a string or bytes');
    checkSize(input.byteLength);
    // Copied: the caller keeps its array and may change it after we return.
    return parsePublicKeyBlob(input.slice());
  }
  checkSize(Buffer.byteLength(input, 'utf8'));
  const line = splitKeyLine(input, assertSupportedKeyType);
  const key = parsePublicKeyBlob(line.blob);
  if (key.type !== line.type) {
    throw new JitcaError(
      ErrorCodes.KEY_MALFORMED,
      `line says ${line.type} but the encoded key is ${key.type}; the two must match`,
    );
  }
  return line.comment === undefined ? key : { ...key, comment: line.comment };
}

/** Decodes a wire blob into its type and validated key material (shared with certificates). */
export function decodePublicKeyBlob(blob: Uint8Array): { type: SshKeyType; material: KeyMaterial } {
  const reader = new SshReader(blob);
  const type = readKeyTypeName(reader);
  assertSupportedKeyType(type);
  const material = readKeyMaterial(type, reader);
  reader.ensureEnd('public key blob');
  return { type, material };
}

/** Builds the SshPublicKey view of already-validated material. */
export function publicKeyFromMaterial(type: SshKeyType, material: KeyMaterial): SshPublicKey {
  const writer = new SshWriter().writeString(type);
  writeKeyMaterial(writer, material);
  return publicKeyView(type, material, writer.toBytes());
}

/** The SshPublicKey view of `blob`, which must be the canonical encoding of type + material. */
function publicKeyView(type: SshKeyType, material: KeyMaterial, blob: Uint8Array): SshPublicKey {
  const key: SshPublicKey = {
    type,
    blob,
    fingerprint: sshFingerprint(blob),
    bits: keyMaterialBits(material),
    isSecurityKey: material.kind === 'sk-ed25519' || material.kind === 'sk-ecdsa',
  };
  if (material.kind === 'sk-ed25519' || material.kind === 'sk-ecdsa') key.application = material.application;
  return key;
}

/** Reads the leading key-type string; type names are short printable ASCII (RFC 4250 §4.6.1). */
export function readKeyTypeName(reader: SshReader): string {
  const bytes = reader.readString();
  if (bytes.length === 0 || bytes.length > 64 || bytes.some((b) => b < 0x21 || b > 0x7e)) {
    throw new JitcaError(ErrorCodes.KEY_MALFORMED, 'key type name is empty, too long or not printable ASCII');
  }
  return Buffer.from(bytes).toString('latin1');
}

/** "SHA256:" + unpadded base64 of SHA-256 over the blob (ssh-keygen -l, sshkey_fingerprint). */
export function sshFingerprint(blob: Uint8Array): string {
  return `SHA256:${hash('sha256', blob, 'base64').replace(/=+$/, '')}`;
}

/**
 * The SSH form of a Node key, e.g. the CA key behind a Signer. Accepts Ed25519, P-256, P-384 and
 * RSA (>= 2048 bits); a private KeyObject is reduced to its public half.
 */
export function sshPublicKeyFromKeyObject(key: KeyObject): SshPublicKey {
  const publicKey = key.type === 'public' ? key : createPublicKey(key);
  const jwk = publicKey.export({ format: 'jwk' });
  const fromB64u = (value: string | undefined): Uint8Array => Uint8Array.from(Buffer.from(value ?? '', 'base64url'));
  switch (publicKey.asymmetricKeyType) {
    case 'ed25519':
      return parsePublicKeyBlob(encodeBlob('ssh-ed25519', { kind: 'ed25519', publicKey: fromB64u(jwk.x) }));
    case 'ec': {
      const curve = jwk.crv === 'P-256' ? 'nistp256' : jwk.crv === 'P-384' ? 'nistp384' : undefined;
      if (curve === undefined) {
        throw new JitcaError(ErrorCodes.KEY_UNSUPPORTED, `EC curve ${jwk.crv ?? '?'} is not supported; use P-256 or P-384`);
      }
      const point = Uint8Array.from([0x04, ...fromB64u(jwk.x), ...fromB64u(jwk.y)]);
      return parsePublicKeyBlob(encodeBlob(`ecdsa-sha2-${curve}`, { kind: 'ecdsa', curve, point }));
    }
    case 'rsa':
      return parsePublicKeyBlob(encodeBlob('ssh-rsa', { kind: 'rsa', e: fromB64u(jwk.e), n: fromB64u(jwk.n) }));
    default:
      throw new JitcaError(
        ErrorCodes.KEY_UNSUPPORTED,
        `key algorithm ${publicKey.asymmetricKeyType ?? '?'} is not supported; use Ed25519, ECDSA P-256/P-384 or RSA`,
      );
  }
}

/** The Node KeyObject for a parsed key (the underlying key for sk-* types). */
export function sshPublicKeyToKeyObject(key: { blob: Uint8Array }): KeyObject {
  return keyMaterialToKeyObject(decodePublicKeyBlob(key.blob).material);
}

/** "type base64 [comment]", the format of .pub files and authorized_keys entries. */
export function formatAuthorizedKeysLine(key: { type: string; blob: Uint8Array }, comment?: string): string {
  if (comment !== undefined && /[\r\n\0]/.test(comment)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'comment must not contain line breaks or NUL');
  }
  const base = `${key.type} ${encodeBase64(key.blob)}`;
  return comment === undefined || comment === '' ? base : `${base} ${comment}`;
}

/**
 * `blob` must be owned by the result (a fresh copy). Strict decoding admits exactly one encoding
 * per key (canonical mpints, no trailing bytes, fixed-size fields, the curve name the type names),
 * so the decoded blob is already the one publicKeyFromMaterial would write, and is kept as is.
 */
function parsePublicKeyBlob(blob: Uint8Array): SshPublicKey {
  const { type, material } = decodePublicKeyBlob(blob);
  return publicKeyView(type, material, blob);
}

function encodeBlob(type: string, material: KeyMaterial): Uint8Array {
  const writer = new SshWriter().writeString(type);
  writeKeyMaterial(writer, material);
  return writer.toBytes();
}

function checkSize(bytes: number): void {
  if (bytes > MAX_PUBLIC_KEY_INPUT_BYTES) {
    throw new JitcaError(
      ErrorCodes.INPUT_TOO_LARGE,
      `public key input is ${bytes} bytes; at most ${MAX_PUBLIC_KEY_INPUT_BYTES} are accepted`,
    );
  }
}
