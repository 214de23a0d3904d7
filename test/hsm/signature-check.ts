import { verify } from 'node:crypto';
import type { HashName, Signer } from '../../hsm/signer.ts';

/** Verifies a Signer's output with node:crypto against signer.publicKey, as a relying party would. */
export function verifiesWith(signer: Signer, data: Uint8Array, signature: Uint8Array, hash?: HashName): boolean {
  switch (signer.algorithm.kind) {
    case 'ed25519':
      return verify(null, data, signer.publicKey, signature);
    case 'ecdsa':
      return verify(
        hash ?? (signer.algorithm.curve === 'P-256' ? 'sha256' : 'sha384'),
        data,
        { key: signer.publicKey, dsaEncoding: 'ieee-p1363' },
        signature,
      );
    case 'rsa':
      return verify(hash ?? 'sha512', data, signer.publicKey, signature);
  }
}
