import { createPublicKey, type KeyObject } from 'node:crypto';
import { assertUsableEd25519Key } from '../keys/ed25519-point.ts';
import { ErrorCodes, JitcaError, type ErrorCode } from '../errors.ts';
import { DerError, UniversalTag, bitStringBytes, decodeObjectIdentifier, expectSequence, type DerElement } from './der-reader.ts';

/** The key kinds jitca certifies in X.509 client certificates (bits: any RSA size from 2048). */
export type SubjectKeyAlgorithm =
  | { kind: 'ed25519' }
  | { kind: 'ecdsa'; curve: 'P-256' | 'P-384' }
  | { kind: 'rsa'; bits: number };

export interface SubjectPublicKey {
  algorithm: SubjectKeyAlgorithm;
  publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER, exactly as received. */
  spki: Uint8Array;
  /** Contents of the subjectPublicKey BIT STRING (RFC 5280 §4.2.1.2 method 1 hashes these). */
  subjectPublicKeyBits: Uint8Array;
}

export const MIN_RSA_BITS = 2048;
/** Verifying with larger moduli gets slow, and no client tool makes them. */
export const MAX_RSA_BITS = 8192;

const OID_ED25519 = '1.3.101.112'; // RFC 8410 §3
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1'; // RFC 5480 §2.1.1
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1'; // RFC 8017 appendix A.1
const NAMED_CURVES: Readonly<Record<string, 'P-256' | 'P-384'>> = {
  '1.2.840.10045.3.1.7': 'P-256', // secp256r1, RFC 5480 §2.1.1.1
  '1.3.132.0.34': 'P-384', // secp384r1
};
const KNOWN_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.10040.4.1': 'DSA',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.3.101.113': 'Ed448',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.3.132.0.10': 'secp256k1',
  '1.3.132.0.35': 'P-521',
};
const ALLOWED = 'Ed25519, ECDSA P-256 or P-384, or RSA of 2048 to 8192 bits';

/**
 * Reads a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) that decodeDer has accepted, and refuses key
 * kinds jitca does not certify: ERR_KEY_UNSUPPORTED for other algorithms and curves (DSA,
 * secp256k1, X25519, explicit curve parameters, RSA-PSS-only keys), ERR_KEY_TOO_SMALL for RSA under
 * 2048 bits (NIST SP 800-131A), ERR_KEY_INVALID_POINT for a non-canonical or small-order Ed25519
 * point (src/ed25519-point.ts). Malformed key material is `malformedCode`.
 */
export function readSubjectPublicKey(element: DerElement, malformedCode: ErrorCode): SubjectPublicKey {
  let algorithmOid: string;
  let parameters: DerElement | undefined;
  let subjectPublicKeyBits: Uint8Array;
  try {
    const [algorithmIdentifier, bits] = expectSequence(element, 'SubjectPublicKeyInfo', 2) as [DerElement, DerElement];
    const [oid, params] = expectSequence(algorithmIdentifier, 'key AlgorithmIdentifier', 1, 2) as [DerElement, DerElement | undefined];
    algorithmOid = decodeObjectIdentifier(oid);
    parameters = params;
    subjectPublicKeyBits = bitStringBytes(bits, 'subjectPublicKey');
  } catch (error) {
    if (error instanceof DerError) throw new JitcaError(malformedCode, `public key: ${error.message}`);
    throw error;
  }
  const algorithm = classify(algorithmOid, parameters, malformedCode);
  const spki = element.encoded.slice();
  let publicKey: KeyObject;
  try {
    // OpenSSL checks the encoding and, for EC, that the point is on the curve.
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch {
    throw new JitcaError(malformedCode, `public key is not a valid ${describe(algorithm)} key`);
  }
  if (algorithm.kind === 'rsa') return { algorithm: checkRsa(publicKey), publicKey, spki, subjectPublicKeyBits };
  // OpenSSL takes any 32 bytes; the identity and other small-order points are keys anyone can sign
  // for (and Go, which kube-apiserver uses for TLS client authentication, verifies cofactorless).
  if (algorithm.kind === 'ed25519') assertUsableEd25519Key(subjectPublicKeyBits);
  return { algorithm, publicKey, spki, subjectPublicKeyBits };
}

function classify(
  oid: string,
  parameters: DerElement | undefined,
  malformedCode: ErrorCode,
): SubjectKeyAlgorithm {
  switch (oid) {
    case OID_ED25519:
      // RFC 8410 §3: parameters MUST be absent.
      if (parameters !== undefined) throw new JitcaError(malformedCode, 'Ed25519 key algorithm must have no parameters');
      return { kind: 'ed25519' };
    case OID_RSA_ENCRYPTION:
      // RFC 3279 §2.3.1: parameters MUST be NULL.
      if (parameters === undefined || parameters.tagClass !== 0 || parameters.tagNumber !== UniversalTag.null) {
        throw new JitcaError(malformedCode, 'rsaEncryption key algorithm must have NULL parameters');
      }
      return { kind: 'rsa', bits: 0 }; // size read from the key by checkRsa
    case OID_EC_PUBLIC_KEY: {
      // RFC 5480 §2.1.1: namedCurve only; implicit and explicit curves are refused.
      if (parameters === undefined || parameters.tagClass !== 0 || parameters.tagNumber !== UniversalTag.objectIdentifier) {
        throw new JitcaError(ErrorCodes.KEY_UNSUPPORTED, `EC keys must name their curve; allowed keys: ${ALLOWED}`);
      }
      const curveOid = decodeObjectIdentifier(parameters);
      const curve = NAMED_CURVES[curveOid];
      if (curve === undefined) {
        throw new JitcaError(ErrorCodes.KEY_UNSUPPORTED, `EC curve ${KNOWN_NAMES[curveOid] ?? curveOid} is not supported; allowed keys: ${ALLOWED}`, {
          details: { curve: curveOid },
        });
      }
      return { kind: 'ecdsa', curve };
    }
    default:
      throw new JitcaError(ErrorCodes.KEY_UNSUPPORTED, `key algorithm ${KNOWN_NAMES[oid] ?? oid} is not supported; allowed keys: ${ALLOWED}`, {
        details: { algorithm: oid },
      });
  }
}

function checkRsa(publicKey: KeyObject): SubjectKeyAlgorithm {
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  const exponent = publicKey.asymmetricKeyDetails?.publicExponent ?? 0n;
  if (bits < MIN_RSA_BITS) {
    throw new JitcaError(ErrorCodes.KEY_TOO_SMALL, `RSA key of ${bits} bits is too small; use at least ${MIN_RSA_BITS} bits`, {
      details: { bits, minimum: MIN_RSA_BITS },
    });
  }
  if (bits > MAX_RSA_BITS) {
    throw new JitcaError(ErrorCodes.KEY_UNSUPPORTED, `RSA key of ${bits} bits is larger than the ${MAX_RSA_BITS} bits allowed`, {
      details: { bits, maximum: MAX_RSA_BITS },
    });
  }
  // An even or huge exponent is no real client's key; a huge one would also make verifying slow.
  if (exponent < 3n || exponent % 2n === 0n || exponent >= 1n << 32n) {
    throw new JitcaError(ErrorCodes.KEY_UNSUPPORTED, 'RSA public exponent must be odd, at least 3 and below 2^32');
  }
  return { kind: 'rsa', bits };
}

function describe(algorithm: SubjectKeyAlgorithm): string {
  return algorithm.kind === 'ecdsa' ? `ECDSA ${algorithm.curve}` : algorithm.kind === 'rsa' ? 'RSA' : 'Ed25519';
}
