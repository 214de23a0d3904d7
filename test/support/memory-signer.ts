import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import type { KeyAlgorithm, Signer, SignOptions } from '../../src/keys/signer.ts';

/**
 * In-memory Signer for codec unit tests only (CONTRIBUTING.md, "One interface, many backends").
 * Production code never constructs this: CA keys live in the HSM.
 */
export function createMemorySigner(algorithm: KeyAlgorithm, keyId = 'memory/1'): Signer & { privateKey: KeyObject } {
  const { privateKey, publicKey } =
    algorithm.kind === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : algorithm.kind === 'ecdsa'
        ? generateKeyPairSync('ec', { namedCurve: algorithm.curve === 'P-256' ? 'prime256v1' : 'secp384r1' })
        : generateKeyPairSync('rsa', { modulusLength: algorithm.bits });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  return {
    keyId,
    algorithm,
    publicKey,
    spki,
    privateKey: createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' })),
    async sign(data: Uint8Array, options: SignOptions = {}): Promise<Uint8Array> {
      switch (algorithm.kind) {
        case 'ed25519':
          return new Uint8Array(nodeSign(null, data, privateKey));
        case 'ecdsa': {
          const hash = options.hash ?? (algorithm.curve === 'P-256' ? 'sha256' : 'sha384');
          return new Uint8Array(nodeSign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
        }
        case 'rsa':
          return new Uint8Array(nodeSign(options.hash ?? 'sha512', data, privateKey));
      }
    },
  };
}

/** PKCS#8 DER of an Ed25519 private key is this prefix and the 32-byte seed (RFC 8410 §7). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The Ed25519 private key whose seed is `seed` repeated to 32 bytes: the same key in every run. */
export function ed25519KeyFromSeed(seed: number): KeyObject {
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.alloc(32, seed)]), format: 'der', type: 'pkcs8' });
}

/**
 * An Ed25519 memory Signer on a fixed key, for golden tests: Ed25519 signatures are deterministic
 * (RFC 8032), so a certificate signed with it is the same bytes in every run.
 */
export function createSeededEd25519Signer(seed: number, keyId: string): Signer {
  const privateKey = ed25519KeyFromSeed(seed);
  const publicKey = createPublicKey(privateKey);
  return {
    keyId,
    algorithm: { kind: 'ed25519' },
    publicKey,
    spki: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    async sign(data: Uint8Array): Promise<Uint8Array> {
      return new Uint8Array(nodeSign(null, data, privateKey));
    },
  };
}
