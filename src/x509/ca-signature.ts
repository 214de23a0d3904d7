import { ErrorCodes, JitcaError } from '../errors.ts';
import type { KeyAlgorithm, Signer, SignOptions } from '../keys/signer.ts';
import { derObjectIdentifier, derSequence, derUnsignedInteger } from './der-writer.ts';

interface CaSignatureProfile {
  /** OID for both TBSCertificate.signature and Certificate.signatureAlgorithm (RFC 5280 §4.1.1.2). */
  oid: string;
  /** RFC 4055 §5 / RFC 3279 §2.2.1: RSA algorithms carry NULL; RFC 5758 §3.2, RFC 8410 §3: absent. */
  nullParameters: boolean;
  signOptions: SignOptions;
}

/**
 * The certificate signature algorithm follows the CA key: Ed25519 (RFC 8410 §3), ecdsa-with-SHA256
 * for P-256 and ecdsa-with-SHA384 for P-384 (RFC 5758 §3.2: hash matched to the curve), and
 * sha256WithRSAEncryption for RSA (RFC 4055 §5; every TLS stack verifies it).
 */
function profileFor(algorithm: KeyAlgorithm): CaSignatureProfile {
  switch (algorithm.kind) {
    case 'ed25519':
      return { oid: '1.3.101.112', nullParameters: false, signOptions: {} };
    case 'ecdsa':
      return algorithm.curve === 'P-256'
        ? { oid: '1.2.840.10045.4.3.2', nullParameters: false, signOptions: { hash: 'sha256' } }
        : { oid: '1.2.840.10045.4.3.3', nullParameters: false, signOptions: { hash: 'sha384' } };
    case 'rsa':
      return { oid: '1.2.840.113549.1.1.11', nullParameters: true, signOptions: { hash: 'sha256' } };
  }
}

const DER_NULL = Uint8Array.of(0x05, 0x00);

/** DER AlgorithmIdentifier of the certificate signature made with a CA key of this algorithm. */
export function caSignatureAlgorithm(algorithm: KeyAlgorithm): Uint8Array {
  const profile = profileFor(algorithm);
  const oid = derObjectIdentifier(profile.oid);
  return derSequence(profile.nullParameters ? [oid, DER_NULL] : [oid]);
}

/**
 * Signs DER bytes with the CA key and returns the value for Certificate.signatureValue. The Signer
 * returns ECDSA as raw r || s (PKCS#11 CKM_ECDSA); X.509 wants the DER Ecdsa-Sig-Value
 * (RFC 5480 §2.2 / RFC 3279 §2.2.3). A signature of the wrong size is ERR_HSM_FAILURE.
 */
export async function signWithCa(signer: Signer, data: Uint8Array): Promise<Uint8Array> {
  const signature = await signer.sign(data, profileFor(signer.algorithm).signOptions);
  const algorithm = signer.algorithm;
  const expected = algorithm.kind === 'ed25519' ? 64 : algorithm.kind === 'ecdsa' ? (algorithm.curve === 'P-256' ? 64 : 96) : algorithm.bits / 8;
  if (signature.length !== expected) {
    throw new JitcaError(ErrorCodes.HSM_FAILURE, `CA key ${signer.keyId} returned a ${signature.length}-byte signature, expected ${expected}`, {
      retryable: true,
      details: { keyId: signer.keyId },
    });
  }
  if (algorithm.kind !== 'ecdsa') return signature;
  const half = expected / 2;
  return derSequence([derUnsignedInteger(signature.subarray(0, half)), derUnsignedInteger(signature.subarray(half))]);
}
