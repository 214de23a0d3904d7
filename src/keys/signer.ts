import type { KeyObject } from 'node:crypto';

/**
 * The signing half of the key-manager seam (key-manager.ts): what the SSH and X.509 codecs and
 * issuance see of a CA key. A backend (hsm/ for PKCS#11; an in-memory key in codec tests) hands
 * out objects of this shape; nothing here knows which backend holds the key.
 */
export type KeyAlgorithm =
  | { kind: 'ed25519' }
  | { kind: 'ecdsa'; curve: 'P-256' | 'P-384' }
  | { kind: 'rsa'; bits: 2048 | 3072 | 4096 };

export type KeyAlgorithmName = 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-3072' | 'rsa-4096';

export type HashName = 'sha256' | 'sha384' | 'sha512';

export interface SignOptions {
  /**
   * Digest for ECDSA and RSA (PKCS#1 v1.5). Ignored for Ed25519, which signs the message itself
   * (RFC 8032 PureEdDSA). Defaults: P-256 sha256, P-384 sha384, RSA sha512 (rsa-sha2-512).
   */
  hash?: HashName;
}

export interface Signer {
  /** Stable name of this key generation, e.g. "ssh-user-ca/1"; recorded with every certificate. */
  readonly keyId: string;
  readonly algorithm: KeyAlgorithm;
  /** The public half as a Node KeyObject (export as SPKI DER or JWK from here). */
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER of the public key. */
  readonly spki: Uint8Array;
  /**
   * The one form signatures cross the seam in, whatever the backend: Ed25519 the raw 64 bytes
   * (RFC 8032 R||S); ECDSA raw r||s, each big-endian and left-padded to the curve size (32 bytes
   * for P-256, 48 for P-384), never DER; RSA the PKCS#1 v1.5 signature over the chosen hash, as
   * long as the modulus. The SSH codec re-encodes ECDSA as mpints, the X.509 codec as DER.
   */
  sign(data: Uint8Array, options?: SignOptions): Promise<Uint8Array>;
  /**
   * True when `signature` is an array this signer's sign() returned after verifying it under
   * publicKey itself (a backend that checks where it signs). Anything else, a copy included, is
   * false, and the caller checks it. Optional: a signer without it is always checked by callers.
   */
  checkedSignature?(signature: Uint8Array): boolean;
}

export function parseKeyAlgorithmName(name: string): KeyAlgorithm | undefined {
  switch (name) {
    case 'ed25519':
      return { kind: 'ed25519' };
    case 'ecdsa-p256':
      return { kind: 'ecdsa', curve: 'P-256' };
    case 'ecdsa-p384':
      return { kind: 'ecdsa', curve: 'P-384' };
    case 'rsa-3072':
      return { kind: 'rsa', bits: 3072 };
    case 'rsa-4096':
      return { kind: 'rsa', bits: 4096 };
    default:
      return undefined;
  }
}

export function keyAlgorithmName(algorithm: KeyAlgorithm): string {
  switch (algorithm.kind) {
    case 'ed25519':
      return 'ed25519';
    case 'ecdsa':
      return algorithm.curve === 'P-256' ? 'ecdsa-p256' : 'ecdsa-p384';
    case 'rsa':
      return `rsa-${algorithm.bits}`;
  }
}
