/**
 * DER encoders (X.690 §10) for everything jitca writes: certificates, their extensions and names,
 * the scope extension's value and ECDSA signatures. Each writes the one canonical encoding of its
 * value, so what is signed is exactly what der-reader.ts reads back. Written by hand rather than
 * with @peculiar/asn1-schema: its object model cost about 0.6 ms per certificate, most of the
 * CSR signer's time.
 */

const utf8 = new TextEncoder();

/** One element: identifier octet, definite length in its shortest form (§10.1), content. */
export function derElement(identifier: number, content: Uint8Array): Uint8Array {
  const length = encodeLength(content.length);
  const out = new Uint8Array(1 + length.length + content.length);
  out[0] = identifier;
  out.set(length, 1);
  out.set(content, 1 + length.length);
  return out;
}

export function derSequence(members: readonly Uint8Array[]): Uint8Array {
  return derElement(0x30, concatBytes(members));
}

export function derUtf8String(value: string): Uint8Array {
  return derElement(0x0c, utf8.encode(value));
}

export function derObjectIdentifier(oid: string): Uint8Array {
  return derElement(0x06, objectIdentifierContent(oid));
}

export function derOctetString(content: Uint8Array): Uint8Array {
  return derElement(0x04, content);
}

/** BOOLEAN TRUE: DER writes FF (§11.1); FALSE is only ever a DEFAULT, which DER omits (§11.5). */
export const DER_TRUE: Uint8Array = Uint8Array.of(0x01, 0x01, 0xff);

/** A BIT STRING holding whole bytes (keys, signatures): unused-bits octet 0. */
export function derBitStringBytes(bytes: Uint8Array): Uint8Array {
  return derElement(0x03, concatBytes([Uint8Array.of(0), bytes]));
}

/**
 * A named-bit BIT STRING (KeyUsage) from the numbers of the bits that are set, bit 0 first: DER
 * drops trailing zero bits (§11.2.2), so the length and unused-bits count follow the highest bit.
 */
export function derNamedBits(bits: readonly number[]): Uint8Array {
  if (bits.length === 0) return derElement(0x03, Uint8Array.of(0));
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return derElement(0x03, concatBytes([Uint8Array.of(7 - (highest & 7)), bytes]));
}

/** [n] EXPLICIT or a constructed [n] IMPLICIT: context class, constructed form, tag number n < 31. */
export function derContextConstructed(tagNumber: number, content: Uint8Array): Uint8Array {
  if (!Number.isInteger(tagNumber) || tagNumber < 0 || tagNumber > 30) throw new RangeError(`context tag ${tagNumber} out of range`);
  return derElement(0xa0 | tagNumber, content);
}

/**
 * RFC 5280 §4.1.2.5 Time, whole seconds in UTC: UTCTime YYMMDDHHMMSSZ for 1950-2049,
 * GeneralizedTime YYYYMMDDHHMMSSZ from 2050 (§4.1.2.5.1, §4.1.2.5.2; X.690 §11.7, §11.8).
 */
export function derTime(date: Date): Uint8Array {
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new RangeError(`year ${year} cannot be an X.509 time`);
  const two = (value: number): string => String(value).padStart(2, '0');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year < 2050 ? derElement(0x17, utf8.encode(`${two(year % 100)}${rest}`)) : derElement(0x18, utf8.encode(`${year}${rest}`));
}

/** [n] IMPLICIT of a primitive type: context class, primitive form, tag number n < 31. */
export function derContextPrimitive(tagNumber: number, content: Uint8Array): Uint8Array {
  if (!Number.isInteger(tagNumber) || tagNumber < 0 || tagNumber > 30) throw new RangeError(`context tag ${tagNumber} out of range`);
  return derElement(0x80 | tagNumber, content);
}

/** A non-negative INTEGER from its unsigned big-endian magnitude (§8.3: minimal two's complement). */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start += 1;
  const trimmed = magnitude.subarray(start);
  const first = trimmed[0];
  if (first === undefined) return derElement(0x02, new Uint8Array([0]));
  return derElement(0x02, first >= 0x80 ? concatBytes([new Uint8Array([0]), trimmed]) : trimmed);
}

/** The minimal unsigned big-endian bytes of a positive bigint, with a 0x00 when the top bit is set. */
export function positiveIntegerContent(value: bigint): Uint8Array {
  if (value <= 0n) throw new RangeError('value must be positive');
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
  return (bytes[0] ?? 0) >= 0x80 ? concatBytes([new Uint8Array([0]), bytes]) : bytes;
}

/** Dotted-decimal OID to its DER content (§8.19); arcs may exceed 2^53 (2.25 UUID arcs). */
export function objectIdentifierContent(oid: string): Uint8Array {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(oid)) throw new RangeError(`not a dotted-decimal OID: ${oid}`);
  const arcs = oid.split('.').map((arc) => BigInt(arc));
  const [first = 0n, second = 0n, ...rest] = arcs;
  if (first < 2n && second > 39n) throw new RangeError(`second arc of ${oid} must be below 40`);
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let remaining = arc >> 7n; remaining > 0n; remaining >>= 7n) chunk.unshift(Number(remaining & 0x7fn) | 0x80);
    out.push(...chunk);
  }
  return Uint8Array.from(out);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return new Uint8Array([length]);
  const octets: number[] = [];
  for (let remaining = length; remaining > 0; remaining = Math.floor(remaining / 256)) octets.unshift(remaining % 256);
  return new Uint8Array([0x80 | octets.length, ...octets]);
}
