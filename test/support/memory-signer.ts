import { createPrivateKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import type { KeyAlgorithm, Signer, SignOptions } from '../../hsm/signer.ts';

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
