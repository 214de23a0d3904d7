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

/**
 * The fields of an X.509 certificate (RFC 5280 §4.1) that a chain walk reads and node's
 * X509Certificate does not give as bytes: the issuer and subject Names as DER (compared byte for
 * byte, not as display strings), every extension's raw value, and whether basicConstraints is
 * present at all (node's `ca` cannot tell "absent" from "CA:FALSE", and real YubiKey f9
 * certificates lack it). Signatures are checked elsewhere; this only reads. Throws DerError.
 */
export interface CertificateFields {
  issuer: Uint8Array;
  subject: Uint8Array;
  /** SubjectPublicKeyInfo DER, as in the certificate. */
  spki: Uint8Array;
  /** extnValue contents by OID; a repeated OID is refused (RFC 5280 §4.2). */
  extensions: ReadonlyMap<string, { critical: boolean; value: Uint8Array }>;
  /** Undefined when the certificate has no basicConstraints extension. */
  basicConstraints?: { ca: boolean };
}

const OID_BASIC_CONSTRAINTS = '2.5.29.19';

export function readCertificateFields(der: Uint8Array): CertificateFields {
  const [tbs] = expectSequence(decodeDer(der), 'Certificate', 3) as [DerElement];
  const members = expectSequence(tbs, 'TBSCertificate', 6, 10);
  // version [0] EXPLICIT is optional (absent means v1); everything after it is positional.
  const start = members[0]?.tagClass === TagClass.context && members[0].tagNumber === 0 ? 1 : 0;
  const [, , issuer, , subject, spki] = members.slice(start) as DerElement[];
  if (issuer === undefined || subject === undefined || spki === undefined) throw new DerError('TBSCertificate is missing fields');
  expectUniversal(issuer, UniversalTag.sequence, 'issuer');
  expectUniversal(subject, UniversalTag.sequence, 'subject');
  expectUniversal(spki, UniversalTag.sequence, 'subjectPublicKeyInfo');
  const wrapper = members.find((member) => member.tagClass === TagClass.context && member.tagNumber === 3);
  const extensions = wrapper === undefined ? new Map() : readExtensions(wrapper);
  const fields: CertificateFields = { issuer: issuer.encoded, subject: subject.encoded, spki: spki.encoded, extensions };
  const constraints = extensions.get(OID_BASIC_CONSTRAINTS);
  if (constraints !== undefined) fields.basicConstraints = { ca: readCaFlag(constraints.value) };
  return fields;
}

function readExtensions(wrapper: DerElement): Map<string, { critical: boolean; value: Uint8Array }> {
  const [list] = wrapper.children;
  if (list === undefined || wrapper.children.length !== 1) throw new DerError('extensions [3] must hold one SEQUENCE');
  const result = new Map<string, { critical: boolean; value: Uint8Array }>();
  for (const extension of expectSequence(list, 'Extensions', 1, Number.POSITIVE_INFINITY)) {
    const parts = expectSequence(extension, 'Extension', 2, 3);
    const oid = decodeObjectIdentifier(parts[0] as DerElement);
    if (result.has(oid)) throw new DerError(`extension ${oid} appears more than once`);
    const critical = parts.length === 3 && expectUniversal(parts[1] as DerElement, UniversalTag.boolean, 'critical').content[0] === 0xff;
    const value = expectUniversal(parts[parts.length - 1] as DerElement, UniversalTag.octetString, 'extnValue').content;
    result.set(oid, { critical, value });
  }
  return result;
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }. */
function readCaFlag(value: Uint8Array): boolean {
  const [first] = expectSequence(decodeDer(value), 'basicConstraints', 0, 2);
  return first !== undefined && first.tagNumber === UniversalTag.boolean && first.content[0] === 0xff;
}
