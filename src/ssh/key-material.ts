import { createPublicKey, type KeyObject } from 'node:crypto';
import { assertUsableEd25519Key } from '../keys/ed25519-point.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { bytesToBigint, SshReader, SshWriter } from './wire.ts';

/**
 * The per-type public key fields that follow the key type string in a plain key blob and, in the
 * same order, follow the nonce in a certificate (PROTOCOL.certkeys "New public key formats";
 * RFC 4253 §6.6 for ssh-rsa, RFC 5656 §3.1 for ECDSA, RFC 8709 §4 for Ed25519, PROTOCOL.u2f for
 * the sk-* security-key types, which append the FIDO application string).
 */

export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ssh-rsa',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;

export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

export type KeyMaterial =
  | { kind: 'ed25519'; publicKey: Uint8Array }
  | { kind: 'ecdsa'; curve: EcCurveName; point: Uint8Array }
  | { kind: 'rsa'; e: Uint8Array; n: Uint8Array }
  | { kind: 'sk-ed25519'; publicKey: Uint8Array; application: string }
  | { kind: 'sk-ecdsa'; curve: 'nistp256'; point: Uint8Array; application: string };

export type EcCurveName = 'nistp256' | 'nistp384';

const CURVES: Record<EcCurveName, { jwk: 'P-256' | 'P-384'; size: number }> = {
  nistp256: { jwk: 'P-256', size: 32 },
  nistp384: { jwk: 'P-384', size: 48 },
};

/** OpenSSH refuses RSA moduli under 1024 bits; jitca asks for 2048 (NIST SP 800-131A). */
export const RSA_MIN_BITS = 2048;
/** OpenSSH's own ceiling (SSHBUF_MAX_BIGNUM, 16384 bits). */
export const RSA_MAX_BITS = 16384;
const ED25519_KEY_LENGTH = 32;

const CERT_SUFFIX = '-cert-v01@openssh.com';

export function isSupportedKeyType(type: string): type is SshKeyType {
  return (SSH_KEY_TYPES as readonly string[]).includes(type);
}

/** Throws ERR_KEY_UNSUPPORTED for any type jitca does not accept as a user or CA key. */
export function assertSupportedKeyType(type: string): asserts type is SshKeyType {
  if (isSupportedKeyType(type)) return;
  if (type.endsWith(CERT_SUFFIX)) {
    throw new JitcaError(
      ErrorCodes.KEY_UNSUPPORTED,
      `a certificate (${type}) was given where a plain public key is required; send the key itself`,
    );
  }
  if (type === 'ssh-dss') {
    throw new JitcaError(
      ErrorCodes.KEY_UNSUPPORTED,
      `ssh-dss (DSA) keys are not supported; supported types: ${SSH_KEY_TYPES.join(', ')}`,
    );
  }
  throw new JitcaError(
    ErrorCodes.KEY_UNSUPPORTED,
    `key type ${JSON.stringify(type.slice(0, 64))} is not supported; supported types: ${SSH_KEY_TYPES.join(', ')}`,
  );
}

/** Reads and validates the fields of `type` from `reader` (the type string is already consumed). */
export function readKeyMaterial(type: SshKeyType, reader: SshReader): KeyMaterial {
  switch (type) {
    case 'ssh-ed25519':
      return { kind: 'ed25519', publicKey: readEd25519Key(reader) };
    case 'sk-ssh-ed25519@openssh.com': {
      const publicKey = readEd25519Key(reader);
      return { kind: 'sk-ed25519', publicKey, application: readApplication(reader) };
    }
    case 'ecdsa-sha2-nistp256':
      return { kind: 'ecdsa', curve: 'nistp256', point: readEcPoint(reader, 'nistp256') };
    case 'ecdsa-sha2-nistp384':
      return { kind: 'ecdsa', curve: 'nistp384', point: readEcPoint(reader, 'nistp384') };
    case 'sk-ecdsa-sha2-nistp256@openssh.com': {
      const point = readEcPoint(reader, 'nistp256');
      return { kind: 'sk-ecdsa', curve: 'nistp256', point, application: readApplication(reader) };
    }
    case 'ssh-rsa':
      return readRsa(reader);
  }
}

/** Writes the fields of `material` in wire order (the inverse of readKeyMaterial). */
export function writeKeyMaterial(writer: SshWriter, material: KeyMaterial): void {
  switch (material.kind) {
    case 'ed25519':
      writer.writeString(material.publicKey);
      return;
    case 'sk-ed25519':
      writer.writeString(material.publicKey).writeString(material.application);
      return;
    case 'ecdsa':
      writer.writeString(material.curve).writeString(material.point);
      return;
    case 'sk-ecdsa':
      writer.writeString(material.curve).writeString(material.point).writeString(material.application);
      return;
    case 'rsa':
      // RFC 4253 §6.6: e before n.
      writer.writeMpint(material.e).writeMpint(material.n);
      return;
  }
}

/** Key size as ssh-keygen -l reports it. */
export function keyMaterialBits(material: KeyMaterial): number {
  switch (material.kind) {
    case 'ed25519':
    case 'sk-ed25519':
      return 256;
    case 'ecdsa':
    case 'sk-ecdsa':
      return material.curve === 'nistp256' ? 256 : 384;
    case 'rsa':
      return bitLength(material.n);
  }
}

/**
 * The verifying key as a Node KeyObject. For sk-* keys this is the underlying Ed25519/P-256 key;
 * their signatures cover more than the message (PROTOCOL.u2f), which the caller must handle.
 */
export function keyMaterialToKeyObject(material: KeyMaterial): KeyObject {
  switch (material.kind) {
    case 'ed25519':
    case 'sk-ed25519':
      return createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: base64url(material.publicKey) },
        format: 'jwk',
      });
    case 'ecdsa':
    case 'sk-ecdsa': {
      const { jwk, size } = CURVES[material.curve];
      return createPublicKey({
        key: {
          kty: 'EC',
          crv: jwk,
          x: base64url(material.point.subarray(1, 1 + size)),
          y: base64url(material.point.subarray(1 + size)),
        },
        format: 'jwk',
      });
    }
    case 'rsa':
      return createPublicKey({
        key: { kty: 'RSA', n: base64url(material.n), e: base64url(material.e) },
        format: 'jwk',
      });
  }
}

function readEd25519Key(reader: SshReader): Uint8Array {
  const key = reader.readString();
  if (key.length !== ED25519_KEY_LENGTH) {
    throw new JitcaError(
      ErrorCodes.KEY_MALFORMED,
      `Ed25519 public key is ${key.length} bytes; RFC 8709 §4 requires exactly ${ED25519_KEY_LENGTH}`,
    );
  }
  // The identity and the other small-order points are keys whose signatures anyone can forge.
  assertUsableEd25519Key(key);
  return key;
}

function readEcPoint(reader: SshReader, expected: EcCurveName): Uint8Array {
  const curve = reader.readString();
  const curveName = Buffer.from(curve).toString('latin1');
  // RFC 5656 §3.1: the identifier inside the blob must name the same curve as the key type.
  if (curveName !== expected) {
    throw new JitcaError(
      ErrorCodes.KEY_MALFORMED,
      `ECDSA curve identifier ${JSON.stringify(curveName.slice(0, 32))} does not match the key type (expected ${expected})`,
    );
  }
  const point = reader.readString();
  const { size } = CURVES[expected];
  // SEC 1 §2.3.3 uncompressed form only: OpenSSH writes nothing else.
  if (point.length !== 1 + 2 * size || point[0] !== 0x04) {
    throw new JitcaError(
      ErrorCodes.KEY_MALFORMED,
      `ECDSA ${expected} point must be ${1 + 2 * size} bytes in uncompressed form (0x04 || X || Y)`,
    );
  }
  try {
    // Node (OpenSSL EC_POINT_set_affine_coordinates) rejects coordinates outside the field and
    // points not on the curve; P-256/P-384 have cofactor 1, so on-curve means in the group.
    keyMaterialToKeyObject({ kind: 'ecdsa', curve: expected, point });
  } catch {
    throw new JitcaError(ErrorCodes.KEY_INVALID_POINT, `ECDSA ${expected} public key is not a point on the curve`);
  }
  return point;
}

/**
 * OpenSSH makes only "ssh:" applications: ssh-keygen refuses any other at enrollment
 * ("FIDO application string must begin with \"ssh:\"", ssh-keygen.c) and `ssh-keygen -K` skips
 * resident keys without the prefix (sshsk_load_resident, ssh-sk.c). A web origin would make
 * the key's signatures usable as WebAuthn assertions for that site, and ssh-agent treats such keys
 * apart (check_websafe_message_contents). OpenSSH sets no length limit (sshkey_deserialize_sk
 * reads a C string bounded only by SSHBUF_SIZE_MAX, 128 MiB), so jitca picks one: real
 * applications are "ssh:" or a short label after it ("ssh:work", "ssh:yubikey-backup").
 */
export const SK_APPLICATION_MAX_LENGTH = 64;
/** "ssh:" and then printable ASCII (space to tilde): no control characters, line breaks or NUL. */
const SK_APPLICATION = /^ssh:[\x20-\x7e]*$/;

function readApplication(reader: SshReader): string {
  const bytes = reader.readString();
  if (bytes.length > SK_APPLICATION_MAX_LENGTH) {
    throw new JitcaError(
      ErrorCodes.KEY_MALFORMED,
      `security key application string is ${bytes.length} bytes; at most ${SK_APPLICATION_MAX_LENGTH} are accepted`,
    );
  }
  const application = Buffer.from(bytes).toString('latin1');
  if (!SK_APPLICATION.test(application)) {
    throw new JitcaError(
      ErrorCodes.KEY_MALFORMED,
      'security key application string must be "ssh:" followed by printable ASCII, as OpenSSH makes them (PROTOCOL.u2f)',
    );
  }
  return application;
}

function readRsa(reader: SshReader): KeyMaterial {
  const e = reader.readMpintUnsignedBytes();
  const n = reader.readMpintUnsignedBytes();
  const bits = bitLength(n);
  if (bits < RSA_MIN_BITS) {
    throw new JitcaError(ErrorCodes.KEY_TOO_SMALL, `RSA key has ${bits} bits; at least ${RSA_MIN_BITS} are required`);
  }
  if (bits > RSA_MAX_BITS) {
    throw new JitcaError(ErrorCodes.KEY_UNSUPPORTED, `RSA key has ${bits} bits; at most ${RSA_MAX_BITS} are supported`);
  }
  if (((n[n.length - 1] ?? 0) & 1) === 0) {
    throw new JitcaError(ErrorCodes.KEY_MALFORMED, 'RSA modulus is even, so it is not a product of two odd primes');
  }
  // Every mainstream generator uses 65537 (sometimes 3, 35 or 37); an even exponent has no inverse
  // and a huge one only makes verification slow, so anything else is refused.
  const exponent = bytesToBigint(e);
  if (exponent < 3n || exponent >= 1n << 32n || (exponent & 1n) === 0n) {
    throw new JitcaError(
      ErrorCodes.KEY_MALFORMED,
      'RSA public exponent must be odd, at least 3 and below 2^32 (65537 is the usual value)',
    );
  }
  const material: KeyMaterial = { kind: 'rsa', e, n };
  try {
    keyMaterialToKeyObject(material);
  } catch {
    throw new JitcaError(ErrorCodes.KEY_MALFORMED, 'RSA public key was refused by the crypto library');
  }
  return material;
}

function bitLength(magnitude: Uint8Array): number {
  let index = 0;
  while (index < magnitude.length && magnitude[index] === 0) index++;
  const first = magnitude[index];
  if (first === undefined) return 0;
  return (magnitude.length - index - 1) * 8 + (32 - Math.clz32(first));
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}
