import { X509Certificate } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Signer } from '../keys/signer.ts';
import {
  DerError,
  TagClass,
  UniversalTag,
  decodeDer,
  decodeObjectIdentifier,
  expectSequence,
  expectUniversal,
  type DerElement,
} from './der-reader.ts';
import { keyIdentifierOf } from './key-identifier.ts';

/** What issuance takes from the CA certificate. */
export interface IssuingCa {
  /** The CA certificate's subject Name DER: every issued certificate's issuer, byte for byte. */
  subject: Uint8Array;
  /** Its subjectKeyIdentifier (or, when it has none, the RFC 5280 §4.2.1.2 method 1 value). */
  keyIdentifier: Uint8Array;
  notAfter: Date;
}

const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';

/**
 * Reads the CA certificate that goes with `signer`. It must be strict DER, a CA (basicConstraints
 * CA:TRUE, RFC 5280 §4.2.1.9) and certify exactly the signer's public key; otherwise
 * ERR_CONFIG_INVALID, since the pair comes from jitca's configuration and rotation state.
 */
export function readIssuingCa(certificate: X509Certificate | Uint8Array, signer: Signer): IssuingCa {
  // The same CA certificate signs thousands of certificates: read and check it once per
  // (certificate, signer) pair. Both are long-lived objects of the running CA.
  let bySigner = issuingCaCache.get(certificate);
  if (bySigner === undefined) {
    bySigner = new WeakMap();
    issuingCaCache.set(certificate, bySigner);
  }
  let issuing = bySigner.get(signer);
  if (issuing === undefined) {
    issuing = readIssuingCaUncached(certificate, signer);
    bySigner.set(signer, issuing);
  }
  return issuing;
}

const issuingCaCache = new WeakMap<X509Certificate | Uint8Array, WeakMap<Signer, IssuingCa>>();

function readIssuingCaUncached(certificate: X509Certificate | Uint8Array, signer: Signer): IssuingCa {
  const der = certificate instanceof X509Certificate ? new Uint8Array(certificate.raw) : certificate;
  if (!(der instanceof Uint8Array)) throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'CA certificate must be an X509Certificate or DER bytes');
  let subject: Uint8Array;
  let spki: Uint8Array;
  let keyIdentifier: Uint8Array | undefined;
  let parsed: X509Certificate;
  try {
    const [tbs] = expectSequence(decodeDer(der), 'Certificate', 3) as [DerElement];
    const fields = expectSequence(tbs, 'TBSCertificate', 7, 10);
    const first = fields[0] as DerElement;
    if (first.tagClass !== TagClass.context || first.tagNumber !== 0) throw new DerError('CA certificate is not X.509 v3');
    subject = expectUniversal(fields[5] as DerElement, UniversalTag.sequence, 'subject').encoded.slice();
    spki = expectUniversal(fields[6] as DerElement, UniversalTag.sequence, 'subjectPublicKeyInfo').encoded.slice();
    keyIdentifier = findSubjectKeyIdentifier(fields.slice(7));
    parsed = new X509Certificate(der);
  } catch (error) {
    if (error instanceof JitcaError) throw error;
    const reason = error instanceof DerError ? error.message : 'OpenSSL cannot read it';
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `CA certificate is not valid: ${reason}`);
  }
  if (!Buffer.from(spki).equals(signer.spki)) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `CA certificate does not certify the public key of ${signer.keyId}`, {
      details: { keyId: signer.keyId },
    });
  }
  if (!parsed.ca) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'CA certificate lacks basicConstraints CA:TRUE; it cannot issue certificates');
  }
  return { subject, keyIdentifier: keyIdentifier ?? keyIdentifierOf(spki), notAfter: parsed.validToDate };
}

function findSubjectKeyIdentifier(optionalFields: DerElement[]): Uint8Array | undefined {
  const extensions = optionalFields.find((field) => field.tagClass === TagClass.context && field.tagNumber === 3);
  const list = extensions?.children[0];
  if (list === undefined) return undefined;
  for (const extension of expectSequence(list, 'Extensions', 1, Number.POSITIVE_INFINITY)) {
    const members = expectSequence(extension, 'Extension', 2, 3);
    if (decodeObjectIdentifier(members[0] as DerElement) !== OID_SUBJECT_KEY_IDENTIFIER) continue;
    const value = expectUniversal(members[members.length - 1] as DerElement, UniversalTag.octetString, 'extnValue');
    return expectUniversal(decodeDer(value.content), UniversalTag.octetString, 'subjectKeyIdentifier').content.slice();
  }
  return undefined;
}
