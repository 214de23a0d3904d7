/**
 * Strict DER reader (X.690 §10, over the BER rules of §8): the one place jitca checks that X.509
 * input is the single, canonical encoding of its value. asn1js (under @peculiar/asn1-schema) reads
 * BER and ignores bytes after the first element, so everything is walked here first; the schema
 * classes only interpret bytes this reader has accepted.
 *
 * Refused, with DerError (callers turn it into a JitcaError with their own code):
 * - bytes after the element, or an element running past its container;
 * - indefinite lengths (X.690 §10.1), long-form lengths that are not minimal, lengths over 4 bytes;
 * - high tag numbers (≥ 31: nothing in X.509 or PKCS#10 uses them);
 * - universal types in the wrong form (X.690 §10.2: strings are primitive; SEQUENCE and SET are
 *   constructed), end-of-contents octets;
 * - BOOLEAN other than 00/FF (§11.1), INTEGER with unneeded leading bytes (§8.3.2), BIT STRING with
 *   more than 7 unused bits or unused bits not zero (§11.2), NULL with content, OBJECT IDENTIFIER
 *   subidentifiers with leading 0x80 (§8.19.2).
 * Not checked: the order of SET OF members (§11.6); jitca refuses every SET with more than one
 * member where it reads one (multi-valued RDNs, attribute value sets).
 */

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const TagClass = { universal: 0, application: 1, context: 2, private: 3 } as const;

/** Universal tag numbers used in X.509 (X.680 §8.4). */
export const UniversalTag = {
  boolean: 1,
  integer: 2,
  bitString: 3,
  octetString: 4,
  null: 5,
  objectIdentifier: 6,
  enumerated: 10,
  utf8String: 12,
  sequence: 16,
  set: 17,
  numericString: 18,
  printableString: 19,
  teletexString: 20,
  ia5String: 22,
  utcTime: 23,
  generalizedTime: 24,
  visibleString: 26,
  universalString: 28,
  bmpString: 30,
} as const;

export interface DerElement {
  tagClass: number;
  constructed: boolean;
  tagNumber: number;
  /** Offset of the identifier octet within the input given to decodeDer. */
  offset: number;
  /** The whole element: identifier, length and content (a view into the input). */
  encoded: Uint8Array;
  /** The content octets (a view into the input). */
  content: Uint8Array;
  /** The elements inside a constructed element, in order; empty for primitive ones. */
  children: DerElement[];
}

/** Deeper nesting than this is refused: X.509 structures nest about a dozen levels. */
const MAX_DEPTH = 32;
/** Length fields of more than 4 bytes would describe more than 4 GiB. */
const MAX_LENGTH_OCTETS = 4;

/**
 * Decodes exactly one DER element covering all of `bytes`, with every constructed element walked
 * and checked. Throws DerError on anything that is not strict DER.
 */
export function decodeDer(bytes: Uint8Array): DerElement {
  const element = readElement(bytes, 0, bytes.length, 0);
  if (element.offset + element.encoded.length !== bytes.length) {
    throw new DerError(`${bytes.length - element.encoded.length} unexpected byte(s) after the DER element`);
  }
  return element;
}

function readElement(bytes: Uint8Array, offset: number, end: number, depth: number): DerElement {
  if (depth > MAX_DEPTH) throw new DerError(`DER nesting deeper than ${MAX_DEPTH} levels`);
  const identifier = byteAt(bytes, offset, end, 'identifier');
  const tagClass = identifier >> 6;
  const constructed = (identifier & 0x20) !== 0;
  const tagNumber = identifier & 0x1f;
  if (tagNumber === 0x1f) throw new DerError(`high tag number form at offset ${offset} is not used in X.509`);
  const first = byteAt(bytes, offset + 1, end, 'length');
  let length: number;
  let headerLength: number;
  if (first < 0x80) {
    length = first;
    headerLength = 2;
  } else {
    const octets = first & 0x7f;
    if (octets === 0) throw new DerError(`indefinite length at offset ${offset} is not DER`);
    if (octets > MAX_LENGTH_OCTETS) throw new DerError(`length field of ${octets} bytes at offset ${offset} is too large`);
    length = 0;
    for (let index = 0; index < octets; index += 1) {
      length = length * 256 + byteAt(bytes, offset + 2 + index, end, 'length');
    }
    // X.690 §10.1: the definite form with the fewest length octets.
    if (length < 0x80 || byteAt(bytes, offset + 2, end, 'length') === 0) {
      throw new DerError(`length ${length} at offset ${offset} is not in its shortest form`);
    }
    headerLength = 2 + octets;
  }
  const contentStart = offset + headerLength;
  if (length > end - contentStart) {
    throw new DerError(`element at offset ${offset} claims ${length} content byte(s) but only ${Math.max(0, end - contentStart)} remain`);
  }
  const contentEnd = contentStart + length;
  const element: DerElement = {
    tagClass,
    constructed,
    tagNumber,
    offset,
    encoded: bytes.subarray(offset, contentEnd),
    content: bytes.subarray(contentStart, contentEnd),
    children: [],
  };
  if (tagClass === TagClass.universal) checkUniversal(element);
  if (constructed) {
    let childOffset = contentStart;
    while (childOffset < contentEnd) {
      const child = readElement(bytes, childOffset, contentEnd, depth + 1);
      element.children.push(child);
      childOffset += child.encoded.length;
    }
  }
  return element;
}

function byteAt(bytes: Uint8Array, offset: number, end: number, what: string): number {
  const value = offset < end ? bytes[offset] : undefined;
  if (value === undefined) throw new DerError(`DER ${what} runs past the end of its container`);
  return value;
}

function checkUniversal(element: DerElement): void {
  const { tagNumber, constructed, content, offset } = element;
  if (tagNumber === 0) throw new DerError(`end-of-contents octets at offset ${offset} are not DER`);
  const mustBeConstructed = tagNumber === UniversalTag.sequence || tagNumber === UniversalTag.set;
  if (constructed !== mustBeConstructed) {
    throw new DerError(`universal tag ${tagNumber} at offset ${offset} must be ${mustBeConstructed ? 'constructed' : 'primitive'} in DER`);
  }
  switch (tagNumber) {
    case UniversalTag.boolean:
      if (content.length !== 1 || (content[0] !== 0x00 && content[0] !== 0xff)) {
        throw new DerError(`BOOLEAN at offset ${offset} must be one byte 00 or FF`);
      }
      return;
    case UniversalTag.integer:
    case UniversalTag.enumerated:
      checkMinimalInteger(content, offset);
      return;
    case UniversalTag.bitString:
      checkBitString(content, offset);
      return;
    case UniversalTag.null:
      if (content.length !== 0) throw new DerError(`NULL at offset ${offset} has content`);
      return;
    case UniversalTag.objectIdentifier:
      checkObjectIdentifier(content, offset);
      return;
    default:
      return;
  }
}

function checkMinimalInteger(content: Uint8Array, offset: number): void {
  const first = content[0];
  const second = content[1];
  if (first === undefined) throw new DerError(`INTEGER at offset ${offset} is empty`);
  if (second === undefined) return;
  if ((first === 0x00 && second < 0x80) || (first === 0xff && second >= 0x80)) {
    throw new DerError(`INTEGER at offset ${offset} has an unnecessary leading byte`);
  }
}

function checkBitString(content: Uint8Array, offset: number): void {
  const unused = content[0];
  if (unused === undefined) throw new DerError(`BIT STRING at offset ${offset} is empty`);
  if (unused > 7) throw new DerError(`BIT STRING at offset ${offset} claims ${unused} unused bits`);
  const last = content[content.length - 1] ?? 0;
  if (content.length === 1 ? unused !== 0 : (last & ((1 << unused) - 1)) !== 0) {
    throw new DerError(`BIT STRING at offset ${offset} has non-zero unused bits`);
  }
}

function checkObjectIdentifier(content: Uint8Array, offset: number): void {
  if (content.length === 0) throw new DerError(`OBJECT IDENTIFIER at offset ${offset} is empty`);
  let startOfArc = true;
  for (const byte of content) {
    if (startOfArc && byte === 0x80) throw new DerError(`OBJECT IDENTIFIER at offset ${offset} has a padded subidentifier`);
    startOfArc = (byte & 0x80) === 0;
  }
  if (!startOfArc) throw new DerError(`OBJECT IDENTIFIER at offset ${offset} ends inside a subidentifier`);
}

/** The element must have this universal tag (and, by checkUniversal, the right form). */
export function expectUniversal(element: DerElement, tagNumber: number, what: string): DerElement {
  if (element.tagClass !== TagClass.universal || element.tagNumber !== tagNumber) {
    throw new DerError(`${what} has tag ${describeTag(element)}, expected universal ${tagNumber}`);
  }
  return element;
}

/** A SEQUENCE with exactly `min` members, or between `min` and `max` (Infinity: no upper bound). */
export function expectSequence(element: DerElement, what: string, min: number, max = min): DerElement[] {
  expectUniversal(element, UniversalTag.sequence, what);
  if (element.children.length < min || element.children.length > max) {
    const allowed = min === max ? `${min}` : max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min} to ${max}`;
    throw new DerError(`${what} has ${element.children.length} member(s), expected ${allowed}`);
  }
  return element.children;
}

export function describeTag(element: DerElement): string {
  const names = ['universal', 'application', 'context', 'private'];
  return `${names[element.tagClass] ?? 'unknown'} ${element.tagNumber}${element.constructed ? ' (constructed)' : ''}`;
}

/** OBJECT IDENTIFIER content (X.690 §8.19) as dotted decimal; arcs of any size (2.25 UUID arcs are 128-bit). */
export function decodeObjectIdentifier(element: DerElement): string {
  expectUniversal(element, UniversalTag.objectIdentifier, 'OBJECT IDENTIFIER');
  const arcs: bigint[] = [];
  let value = 0n;
  for (const byte of element.content) {
    value = (value << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
    }
  }
  const [first = 0n, ...rest] = arcs;
  // §8.19.4: the first subidentifier packs the first two arcs as 40 * X + Y (X = 2 takes the rest).
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...rest].join('.');
}

/** BIT STRING content without its unused-bits octet (checkBitString already ran). */
export function bitStringBytes(element: DerElement, what: string): Uint8Array {
  expectUniversal(element, UniversalTag.bitString, what);
  if (element.content[0] !== 0) throw new DerError(`${what} must be a whole number of bytes`);
  return element.content.subarray(1);
}
