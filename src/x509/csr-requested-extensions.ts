import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicConstraints, KeyUsage, SubjectAlternativeName, type GeneralName, type KeyUsageType } from '@peculiar/asn1-x509';
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
 * What a CSR asks for in its extensionRequest attribute (RFC 2985 §5.4.2). For information only
 * (audit, display, policy hints): issuance ignores all of it and writes its own extensions.
 */
export interface RequestedExtensions {
  basicConstraints?: { ca: boolean; pathLength?: number };
  keyUsage?: KeyUsageType[];
  /** Key purpose OIDs, e.g. "1.3.6.1.5.5.7.3.2" (clientAuth). */
  extendedKeyUsage?: string[];
  subjectAltNames?: SubjectAltName[];
  /** Every requested extension, in order, with its critical flag. */
  all: Array<{ oid: string; critical: boolean }>;
}

export interface SubjectAltName {
  type: 'dns' | 'email' | 'uri' | 'ip' | 'other';
  value: string;
}

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/**
 * Reads CertificationRequestInfo.attributes ([0] IMPLICIT SET OF Attribute, RFC 2986 §4.1).
 * Returns the requested extensions and the types of the other attributes. Refused, as DerError:
 * more than one extensionRequest, an extensionRequest with other than one value, the same
 * extension twice (RFC 5280 §4.2), critical encoded as an explicit FALSE (X.690 §11.5), and
 * interpreted extension values that are not strict DER.
 */
export function readCsrAttributes(element: DerElement): { requestedExtensions: RequestedExtensions; attributeTypes: string[] } {
  if (element.tagClass !== TagClass.context || element.tagNumber !== 0 || !element.constructed) {
    throw new DerError('CertificationRequestInfo.attributes must be [0] IMPLICIT SET OF Attribute');
  }
  const attributeTypes: string[] = [];
  let requestedExtensions: RequestedExtensions | undefined;
  for (const attribute of element.children) {
    const [typeElement, valuesElement] = expectSequence(attribute, 'Attribute', 2) as [DerElement, DerElement];
    const type = decodeObjectIdentifier(typeElement);
    expectUniversal(valuesElement, UniversalTag.set, 'Attribute values');
    if (type !== OID_EXTENSION_REQUEST) {
      attributeTypes.push(type);
      continue;
    }
    if (requestedExtensions !== undefined) throw new DerError('CSR has more than one extensionRequest attribute');
    if (valuesElement.children.length !== 1) throw new DerError('extensionRequest attribute must hold exactly one Extensions value');
    requestedExtensions = readExtensions(valuesElement.children[0] as DerElement);
  }
  return { requestedExtensions: requestedExtensions ?? { all: [] }, attributeTypes };
}

function readExtensions(element: DerElement): RequestedExtensions {
  expectUniversal(element, UniversalTag.sequence, 'Extensions');
  const result: RequestedExtensions = { all: [] };
  const seen = new Set<string>();
  for (const extension of element.children) {
    const members = expectSequence(extension, 'Extension', 2, 3);
    const oid = decodeObjectIdentifier(members[0] as DerElement);
    if (seen.has(oid)) throw new DerError(`CSR requests extension ${oid} more than once`);
    seen.add(oid);
    let critical = false;
    if (members.length === 3) {
      const flag = expectUniversal(members[1] as DerElement, UniversalTag.boolean, 'Extension.critical');
      if (flag.content[0] !== 0xff) throw new DerError(`extension ${oid} encodes critical FALSE, which DER omits`);
      critical = true;
    }
    const value = expectUniversal(members[members.length - 1] as DerElement, UniversalTag.octetString, 'Extension.extnValue').content;
    result.all.push({ oid, critical });
    switch (oid) {
      case OID_BASIC_CONSTRAINTS: {
        const constraints = parseValue(value, BasicConstraints, 'basicConstraints');
        result.basicConstraints =
          constraints.pathLenConstraint === undefined ? { ca: constraints.cA } : { ca: constraints.cA, pathLength: constraints.pathLenConstraint };
        break;
      }
      case OID_KEY_USAGE:
        result.keyUsage = parseValue(value, KeyUsage, 'keyUsage').toJSON();
        break;
      case OID_EXT_KEY_USAGE:
        // Read here rather than with the schema: asn1js mangles arcs above 2^53 in OIDs.
        result.extendedKeyUsage = expectSequence(decodeDer(value), 'extKeyUsage', 1, Number.POSITIVE_INFINITY).map(decodeObjectIdentifier);
        break;
      case OID_SUBJECT_ALT_NAME:
        result.subjectAltNames = Array.from(parseValue(value, SubjectAlternativeName, 'subjectAltName'), describeGeneralName);
        break;
      default:
        break;
    }
  }
  return result;
}

function parseValue<T>(value: Uint8Array, schema: new () => T, what: string): T {
  decodeDer(value); // strict DER first: the schema parser reads BER and ignores trailing bytes
  try {
    return AsnConvert.parse(value, schema);
  } catch {
    throw new DerError(`requested ${what} extension does not match its ASN.1 definition`);
  }
}

function describeGeneralName(name: GeneralName): SubjectAltName {
  const entry: SubjectAltName =
    name.dNSName !== undefined
      ? { type: 'dns', value: name.dNSName }
      : name.rfc822Name !== undefined
        ? { type: 'email', value: name.rfc822Name }
        : name.uniformResourceIdentifier !== undefined
          ? { type: 'uri', value: name.uniformResourceIdentifier }
          : name.iPAddress !== undefined
            ? { type: 'ip', value: name.iPAddress }
            : { type: 'other', value: otherKind(name) };
  // These strings end up in audit records and logs.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(entry.value)) throw new DerError(`requested ${entry.type} subjectAltName contains a control character`);
  return entry;
}

function otherKind(name: GeneralName): string {
  if (name.otherName !== undefined) return 'otherName';
  if (name.directoryName !== undefined) return 'directoryName';
  if (name.registeredID !== undefined) return 'registeredID';
  if (name.ediPartyName !== undefined) return 'ediPartyName';
  return 'x400Address';
}
