import type { KeyObject } from 'node:crypto';

/**
 * The backend's signer, in the same shape and signature form as the seam's Signer
 * (src/keys/signer.ts; hsm/ imports nothing from src/, so the shape is stated here too and
 * src/keys/key-manager.ts fails to compile if the two drift apart).
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
   * Signature bytes: Ed25519 64 bytes; ECDSA raw r||s, each padded to the curve size (PKCS#11
   * CKM_ECDSA output); RSA PKCS#1 v1.5 over the chosen hash.
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
