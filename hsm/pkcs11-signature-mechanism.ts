import { createHash } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Mechanism } from 'pkcs11js';
import { HsmErrorCodes, HsmError } from './hsm-error.ts';
import { CKM_EDDSA } from './pkcs11-constants.ts';
import type { SignatureCheck } from './pkcs11-sign-thread-protocol.ts';
import type { HashName, KeyAlgorithm, SignOptions } from './signer.ts';

export interface SignatureOperation {
  mechanism: Mechanism;
  /** What goes into C_Sign: the message, or for ECDSA its digest. */
  input: Buffer;
  /** Exact output size, so C_Sign never answers CKR_BUFFER_TOO_SMALL (which keeps the operation open). */
  signatureLength: number;
  /**
   * How the signature is checked, with the hash chosen here: Ed25519 and RSA over the message,
   * ECDSA over the message with the digest's hash (C_Sign saw only the digest).
   */
  check: Omit<SignatureCheck, 'spki'>;
}

/** Parameterless, so one frozen object serves every signature. */
const EDDSA_MECHANISM: Mechanism = Object.freeze({ mechanism: CKM_EDDSA });
const ED25519_CHECK: Omit<SignatureCheck, 'spki'> = Object.freeze({ kind: 'ed25519' });

const RSA_MECHANISMS: Readonly<Record<HashName, number>> = {
  sha256: pkcs11js.CKM_SHA256_RSA_PKCS,
  sha384: pkcs11js.CKM_SHA384_RSA_PKCS,
  sha512: pkcs11js.CKM_SHA512_RSA_PKCS,
};

/**
 * The PKCS#11 mechanism and input for one signature (defaults from SignOptions in signer.ts):
 * - Ed25519: CKM_EDDSA without parameters is PureEdDSA over the message (PKCS#11 3.0 §2.3.14,
 *   RFC 8032 §5.1.6).
 * - ECDSA: CKM_ECDSA signs a digest we compute here (PKCS#11 2.40 §2.3.6); its output is r || s,
 *   each padded to the curve size, which is exactly the Signer contract.
 * - RSA: CKM_SHA*_RSA_PKCS hashes inside the token and pads per PKCS#1 v1.5 (RFC 8017 §8.2).
 */
export function signatureOperation(algorithm: KeyAlgorithm, data: Uint8Array, options: SignOptions): SignatureOperation {
  const message = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (options.hash !== undefined && !Object.hasOwn(RSA_MECHANISMS, options.hash)) {
    throw new HsmError(HsmErrorCodes.REQUEST_INVALID, `hash ${String(options.hash)} is not supported; use sha256, sha384 or sha512`);
  }
  switch (algorithm.kind) {
    case 'ed25519':
      return { mechanism: EDDSA_MECHANISM, input: message, signatureLength: 64, check: ED25519_CHECK };
    case 'ecdsa': {
      const hash = options.hash ?? (algorithm.curve === 'P-256' ? 'sha256' : 'sha384');
      return {
        mechanism: { mechanism: pkcs11js.CKM_ECDSA },
        input: createHash(hash).update(message).digest(),
        signatureLength: algorithm.curve === 'P-256' ? 64 : 96,
        check: { kind: 'ecdsa', hash, message },
      };
    }
    case 'rsa': {
      const hash = options.hash ?? 'sha512';
      return {
        mechanism: { mechanism: RSA_MECHANISMS[hash] },
        input: message,
        signatureLength: algorithm.bits / 8,
        check: { kind: 'rsa', hash },
      };
    }
  }
}
