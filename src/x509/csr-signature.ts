import { verify } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { DerError, UniversalTag, bitStringBytes, decodeObjectIdentifier, expectSequence, type DerElement } from './der-reader.ts';
import type { SubjectPublicKey } from './subject-public-key.ts';

interface SignatureAlgorithm {
  name: string;
  keyKind: 'ed25519' | 'ecdsa' | 'rsa';
  /** Digest for ECDSA and RSA; null for Ed25519 (RFC 8032 PureEdDSA signs the message itself). */
  hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** RFC 5758 §3.2 and RFC 8410 §3: absent; RFC 4055 §5: NULL (absent also seen and accepted). */
  parameters: 'absent' | 'null-or-absent';
}

const SIGNATURE_ALGORITHMS: Readonly<Record<string, SignatureAlgorithm>> = {
  '1.3.101.112': { name: 'Ed25519', keyKind: 'ed25519', hash: null, parameters: 'absent' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', keyKind: 'ecdsa', hash: 'sha256', parameters: 'absent' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', keyKind: 'ecdsa', hash: 'sha384', parameters: 'absent' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', keyKind: 'ecdsa', hash: 'sha512', parameters: 'absent' },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', keyKind: 'rsa', hash: 'sha256', parameters: 'null-or-absent' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', keyKind: 'rsa', hash: 'sha384', parameters: 'null-or-absent' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', keyKind: 'rsa', hash: 'sha512', parameters: 'null-or-absent' },
};

const ALLOWED = 'Ed25519, ecdsa-with-SHA256/384/512 or sha256/384/512WithRSAEncryption';

/**
 * Verifies a PKCS#10 self-signature (RFC 2986 §4.2: over the DER of certificationRequestInfo) in
 * process with node:crypto. `openssl req -verify` is no substitute: OpenSSL 3.0 exits 0 on a bad
 * signature (SECURITY-NOTES.md "CSRs"). The algorithm must suit the key (an RSA algorithm on an EC
 * key is ERR_CSR_INVALID); SHA-1, RSA-PSS and anything else not listed are refused.
 * Returns the algorithm's name; a signature that does not verify is ERR_CSR_SIGNATURE.
 */
export function verifyCsrSignature(
  signedBytes: Uint8Array,
  algorithmElement: DerElement,
  signatureElement: DerElement,
  key: SubjectPublicKey,
): string {
  let algorithm: SignatureAlgorithm;
  let signature: Uint8Array;
  try {
    const [oidElement, parameters] = expectSequence(algorithmElement, 'signatureAlgorithm', 1, 2) as [DerElement, DerElement | undefined];
    const oid = decodeObjectIdentifier(oidElement);
    const known = SIGNATURE_ALGORITHMS[oid];
    if (known === undefined) {
      throw new JitcaError(ErrorCodes.CSR_INVALID, `CSR signature algorithm ${oid} is not supported; use ${ALLOWED}`, { details: { algorithm: oid } });
    }
    const isNull = parameters !== undefined && parameters.tagClass === 0 && parameters.tagNumber === UniversalTag.null;
    if (parameters !== undefined && (known.parameters === 'absent' || !isNull)) {
      throw new DerError(`${known.name} signature algorithm has parameters it must not have`);
    }
    algorithm = known;
    signature = bitStringBytes(signatureElement, 'CSR signature');
  } catch (error) {
    if (error instanceof DerError) throw new JitcaError(ErrorCodes.CSR_INVALID, `CSR is not valid: ${error.message}`);
    throw error;
  }
  if (algorithm.keyKind !== key.algorithm.kind) {
    throw new JitcaError(ErrorCodes.CSR_INVALID, `CSR is signed with ${algorithm.name} but carries a ${key.algorithm.kind} key`);
  }
  let valid: boolean;
  try {
    // ECDSA signatures in X.509 are DER Ecdsa-Sig-Value (RFC 5480 §2.2), node's default encoding.
    valid = verify(algorithm.hash, signedBytes, key.publicKey, signature);
  } catch {
    valid = false; // a signature OpenSSL cannot even decode is a bad signature
  }
  if (!valid) {
    throw new JitcaError(ErrorCodes.CSR_SIGNATURE, 'CSR self-signature does not verify with the public key in the request', {
      details: { signatureAlgorithm: algorithm.name },
    });
  }
  return algorithm.name;
}
