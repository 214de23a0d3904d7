import type { KeyObject } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { readCsrAttributes, type RequestedExtensions } from './csr-requested-extensions.ts';
import { verifyCsrSignature } from './csr-signature.ts';
import { DerError, TagClass, UniversalTag, decodeDer, expectSequence, expectUniversal, type DerElement } from './der-reader.ts';
import { readSubjectName, type SubjectName } from './distinguished-name.ts';
import { PemError, decodePem } from './pem.ts';
import { readSubjectPublicKey, type SubjectKeyAlgorithm } from './subject-public-key.ts';

export interface ParsedCsr {
  /** The request's DER, as received (after PEM decoding). */
  der: Uint8Array;
  /** What the request asks to be called. Issuance never copies it: the approved identity decides. */
  subject: SubjectName;
  publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER, exactly as in the request; the certificate carries these bytes. */
  spki: Uint8Array;
  keyAlgorithm: SubjectKeyAlgorithm;
  /** The self-signature's algorithm, e.g. "Ed25519" or "ecdsa-with-SHA256" (it verified). */
  signatureAlgorithm: string;
  /** For information only: issuance ignores every requested extension. */
  requestedExtensions: RequestedExtensions;
  /** OIDs of attributes other than extensionRequest (e.g. challengePassword), in order. */
  attributeTypes: string[];
}

/** Real CSRs are well under 2 KiB (an RSA-8192 one is about 2.5 KiB as PEM). */
export const MAX_CSR_INPUT_BYTES = 16 * 1024;

const PEM_LABELS = new Set(['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']); // RFC 7468 §7; the second is Netscape's
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses and verifies a PKCS#10 certificate request (RFC 2986), as PEM text, PEM bytes (what a
 * Kubernetes CertificateSigningRequest's spec.request holds) or DER.
 *
 * Errors (all JitcaError): ERR_INPUT_TOO_LARGE over 16 KiB; ERR_CSR_INVALID when it is not
 * exactly one strict-DER request (trailing bytes, BER, a CERTIFICATE, a multi-valued RDN or two
 * CNs, version other than v1); ERR_KEY_UNSUPPORTED / ERR_KEY_TOO_SMALL for keys other than
 * Ed25519, ECDSA P-256/P-384 and RSA 2048-8192; ERR_CSR_SIGNATURE when the self-signature, checked
 * here in process, does not verify.
 */
export function parseCsr(input: string | Uint8Array): ParsedCsr {
  const der = requestDer(input);
  try {
    return parseCsrDer(der);
  } catch (error) {
    // Anything else is a bug here, not a bad request: let it surface (the property tests look for it).
    if (error instanceof DerError) throw new JitcaError(ErrorCodes.CSR_INVALID, `CSR is not valid: ${error.message}`);
    throw error;
  }
}

// decodeDer walks every element as strict DER, so the request has exactly one encoding; and each
// member is then read here by jitca's own readers, so no schema library interprets it differently.
function parseCsrDer(der: Uint8Array): ParsedCsr {
  const root = decodeDer(der);
  const [info, signatureAlgorithm, signature] = expectSequence(root, 'CertificationRequest', 3) as [DerElement, DerElement, DerElement];
  expectUniversal(info, UniversalTag.sequence, 'certificationRequestInfo');
  if (info.children.length !== 4) {
    // A certificate's outer shape is the same three members; its TBSCertificate has 6 to 10.
    const hint = info.children.length >= 6 ? ' (this looks like a certificate, not a request)' : '';
    throw new DerError(`certificationRequestInfo has ${info.children.length} members, expected 4${hint}`);
  }
  const [version, subject, spki, attributes] = info.children as [DerElement, DerElement, DerElement, DerElement];
  expectUniversal(version, UniversalTag.integer, 'CSR version');
  if (version.content.length !== 1 || version.content[0] !== 0) throw new DerError('CSR version must be v1 (0), RFC 2986 §4.1');
  if (attributes.tagClass !== TagClass.context) throw new DerError('CSR attributes must be [0]');

  const subjectName = readSubjectName(subject);
  const key = readSubjectPublicKey(spki, ErrorCodes.CSR_INVALID);
  const { requestedExtensions, attributeTypes } = readCsrAttributes(attributes);
  const signatureAlgorithmName = verifyCsrSignature(info.encoded, signatureAlgorithm, signature, key);
  return {
    der: der.slice(),
    subject: subjectName,
    publicKey: key.publicKey,
    spki: key.spki,
    keyAlgorithm: key.algorithm,
    signatureAlgorithm: signatureAlgorithmName,
    requestedExtensions,
    attributeTypes,
  };
}

function requestDer(input: string | Uint8Array): Uint8Array {
  let text: string;
  if (typeof input === 'string') {
    checkSize(Buffer.byteLength(input, 'utf8'));
    text = input;
  } else if (input instanceof Uint8Array) {
    checkSize(input.byteLength);
    // DER starts with a SEQUENCE (0x30); PEM bytes start with "-----", maybe after whitespace.
    const first = input.find((byte) => byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d);
    if (first !== 0x2d) return input;
    try {
      text = utf8.decode(input);
    } catch {
      throw new JitcaError(ErrorCodes.CSR_INVALID, 'CSR PEM is not valid UTF-8 text');
    }
  } else {
    throw new JitcaError(ErrorCodes.CSR_INVALID, 'CSR must be PEM text or DER bytes');
  }
  let block;
  try {
    block = decodePem(text);
  } catch (error) {
    if (error instanceof PemError) throw new JitcaError(ErrorCodes.CSR_INVALID, `CSR is not valid PEM: ${error.message}`);
    throw error;
  }
  if (!PEM_LABELS.has(block.label)) {
    throw new JitcaError(ErrorCodes.CSR_INVALID, `PEM block is a "${block.label}"; a CSR is a "CERTIFICATE REQUEST"`, {
      details: { label: block.label },
    });
  }
  return block.der;
}

function checkSize(bytes: number): void {
  if (bytes > MAX_CSR_INPUT_BYTES) {
    throw new JitcaError(ErrorCodes.INPUT_TOO_LARGE, `CSR of ${bytes} bytes is larger than the ${MAX_CSR_INPUT_BYTES} bytes allowed`, {
      details: { bytes, maximum: MAX_CSR_INPUT_BYTES },
    });
  }
}
