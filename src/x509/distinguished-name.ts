import { ErrorCodes, JitcaError } from '../errors.ts';
import { DerError, TagClass, UniversalTag, decodeObjectIdentifier, expectSequence, expectUniversal, type DerElement } from './der-reader.ts';
import { derElement, derObjectIdentifier, derSequence, derUtf8String } from './der-writer.ts';

/**
 * A subject as jitca reads it: Kubernetes takes the user from CN and the groups from the O values
 * (Kubernetes "Authenticating: X509 client certificates"). Everything else is listed, in order.
 */
export interface SubjectName {
  commonName?: string;
  organizations: string[];
  other: SubjectAttribute[];
}

export interface SubjectAttribute {
  /** Attribute type OID, e.g. "2.5.4.11". */
  type: string;
  /** Short name when jitca knows one (RFC 4514 §3 names, plus emailAddress). */
  name?: string;
  value: string;
}

export const OID_COMMON_NAME = '2.5.4.3';
export const OID_ORGANIZATION = '2.5.4.10';

const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf16 = new TextDecoder('utf-16be', { fatal: true, ignoreBOM: true });

/**
 * Reads a Name (RFC 5280 §4.1.2.4) that decodeDer has accepted. Refused, as DerError:
 * - multi-valued RDNs ("CN=alice+CN=root" puts two values in one SET; readers disagree on which
 *   one is "the" CN), and a second CN in another RDN;
 * - string types other than UTF8String, PrintableString, IA5String, BMPString, VisibleString and
 *   NumericString (TeletexString and UniversalString have no single agreed decoding), characters
 *   outside each type's alphabet, invalid UTF-8 or UTF-16;
 * - empty values and control characters (C0, DEL, C1), which would let a name forge log lines.
 */
export function readSubjectName(element: DerElement): SubjectName {
  expectUniversal(element, UniversalTag.sequence, 'subject Name');
  const name: SubjectName = { organizations: [], other: [] };
  for (const rdn of element.children) {
    expectUniversal(rdn, UniversalTag.set, 'RelativeDistinguishedName');
    if (rdn.children.length !== 1) {
      throw new DerError(`a RelativeDistinguishedName holds ${rdn.children.length} attributes; jitca accepts exactly one per RDN`);
    }
    const [typeElement, valueElement] = expectSequence(rdn.children[0] as DerElement, 'AttributeTypeAndValue', 2) as [DerElement, DerElement];
    const type = decodeObjectIdentifier(typeElement);
    const value = readDirectoryString(valueElement, SHORT_NAMES[type] ?? type);
    if (type === OID_COMMON_NAME) {
      if (name.commonName !== undefined) throw new DerError('subject has more than one CN');
      name.commonName = value;
    } else if (type === OID_ORGANIZATION) {
      name.organizations.push(value);
    } else {
      const shortName = SHORT_NAMES[type];
      name.other.push(shortName === undefined ? { type, value } : { type, name: shortName, value });
    }
  }
  return name;
}

function readDirectoryString(element: DerElement, what: string): string {
  if (element.tagClass !== TagClass.universal) throw new DerError(`${what} value is not a string type`);
  const bytes = element.content;
  let value: string;
  try {
    switch (element.tagNumber) {
      case UniversalTag.utf8String:
        value = utf8.decode(bytes);
        break;
      case UniversalTag.bmpString:
        if (bytes.length % 2 !== 0) throw new DerError(`${what} BMPString has an odd length`);
        value = utf16.decode(bytes);
        break;
      case UniversalTag.printableString:
        value = ascii(bytes, /^[A-Za-z0-9 '()+,\-./:=?]*$/, what, 'PrintableString'); // X.680 §41.4
        break;
      case UniversalTag.ia5String:
        value = ascii(bytes, /^[\x00-\x7f]*$/, what, 'IA5String');
        break;
      case UniversalTag.visibleString:
        value = ascii(bytes, /^[\x20-\x7e]*$/, what, 'VisibleString');
        break;
      case UniversalTag.numericString:
        value = ascii(bytes, /^[0-9 ]*$/, what, 'NumericString');
        break;
      default:
        throw new DerError(`${what} uses string type ${element.tagNumber}; use UTF8String or PrintableString`);
    }
  } catch (error) {
    if (error instanceof DerError) throw error;
    throw new DerError(`${what} value is not valid ${element.tagNumber === UniversalTag.bmpString ? 'UTF-16' : 'UTF-8'}`);
  }
  if (value.length === 0) throw new DerError(`${what} value is empty`);
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) throw new DerError(`${what} value contains a control character`);
  return value;
}

function ascii(bytes: Uint8Array, alphabet: RegExp, what: string, type: string): string {
  const value = Buffer.from(bytes).toString('latin1');
  if (!alphabet.test(value)) throw new DerError(`${what} ${type} holds a character outside its alphabet`);
  return value;
}

/** RFC 5280 Appendix A: ub-common-name and ub-organization-name are both 64 characters. */
export const MAX_NAME_VALUE_LENGTH = 64;

/**
 * The DER Name of an issued certificate's subject: the organizations (Kubernetes groups), then
 * the common name (the Kubernetes user), one attribute per RDN, as UTF8String (RFC 5280 §4.1.2.4).
 * Values must be 1-64 characters without control characters, organizations without duplicates;
 * otherwise ERR_REQUEST_INVALID.
 */
export function encodeSubjectName(subject: { commonName: string; organizations: readonly string[] }): Uint8Array {
  const values = [...subject.organizations.map((value) => ({ type: OID_ORGANIZATION, value })), { type: OID_COMMON_NAME, value: subject.commonName }];
  for (const { type, value } of values) checkNameValue(SHORT_NAMES[type] ?? type, value);
  if (new Set(subject.organizations).size !== subject.organizations.length) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'certificate organizations must not repeat');
  }
  // Name ::= SEQUENCE OF RelativeDistinguishedName; RDN ::= SET OF AttributeTypeAndValue (one here).
  return derSequence(values.map(({ type, value }) => derElement(0x31, derSequence([derObjectIdentifier(type), derUtf8String(value)]))));
}

function checkNameValue(what: string, value: unknown): void {
  const ok =
    typeof value === 'string' &&
    value.length >= 1 &&
    [...value].length <= MAX_NAME_VALUE_LENGTH &&
    value.isWellFormed() &&
    !/[\u0000-\u001f\u007f-\u009f]/.test(value);
  if (!ok) {
    throw new JitcaError(
      ErrorCodes.REQUEST_INVALID,
      `certificate subject ${what} must be 1 to ${MAX_NAME_VALUE_LENGTH} characters without control characters`,
      { details: { attribute: what } },
    );
  }
}
