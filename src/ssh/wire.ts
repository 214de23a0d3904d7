import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * The one SSH wire codec (OpenSSH's sshbuf), used by public keys, certificates and KRLs alike.
 * Data types and encodings are RFC 4251 §5: uint32/uint64 big-endian, string = uint32 length +
 * bytes, mpint = two's-complement big-endian string without unnecessary leading bytes, name-list =
 * string of comma-separated ASCII names.
 *
 * Parsing is strict: every read is bounds-checked before anything is allocated, so a length field
 * claiming 4 GiB in a 20-byte input fails at once with ERR_WIRE_TRUNCATED.
 */

const UINT64_MAX = (1n << 64n) - 1n;
const UINT32_MAX = 0xffff_ffff;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export class SshReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#bytes.byteLength - this.#offset;
  }

  /** Position of the next read, from the start of the input. */
  get offset(): number {
    return this.#offset;
  }

  readUint32(): number {
    this.#need(4, 'uint32');
    const value = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return value;
  }

  readUint64(): bigint {
    this.#need(8, 'uint64');
    const value = this.#view.getBigUint64(this.#offset);
    this.#offset += 8;
    return value;
  }

  /** A string's bytes, copied out so later changes to the input cannot alter parsed values. */
  readString(): Uint8Array {
    const length = this.readUint32();
    // Checked against what is left before slicing (RFC 4251 §5 lengths are attacker-controlled).
    this.#need(length, 'string body');
    const value = this.#bytes.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  /** A string that must be valid UTF-8 (key ids, principals, option names). */
  readStringUtf8(): string {
    const bytes = this.readString();
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      throw new JitcaError(ErrorCodes.WIRE_INVALID, 'string is not valid UTF-8');
    }
  }

  /**
   * An mpint as a signed bigint. Non-canonical encodings (a leading 0x00 not needed for the sign,
   * or a leading 0xff not needed for a negative value) are rejected: RFC 4251 §5 says they MUST NOT
   * be included, and accepting them would give one key several blobs and fingerprints.
   */
  readMpint(): bigint {
    const bytes = this.readString();
    checkCanonicalMpint(bytes);
    if (bytes.length === 0) return 0n;
    let value = 0n;
    for (const byte of bytes) value = (value << 8n) | BigInt(byte);
    const first = bytes[0] ?? 0;
    if ((first & 0x80) !== 0) value -= 1n << BigInt(bytes.length * 8);
    return value;
  }

  /**
   * A non-negative mpint as its unsigned big-endian magnitude (no sign byte), e.g. an RSA modulus
   * or an ECDSA signature component. Negative values are ERR_WIRE_INVALID.
   */
  readMpintUnsignedBytes(): Uint8Array {
    const bytes = this.readString();
    checkCanonicalMpint(bytes);
    const first = bytes[0];
    if (first === undefined) return new Uint8Array(0);
    if ((first & 0x80) !== 0) {
      throw new JitcaError(ErrorCodes.WIRE_INVALID, 'mpint is negative where a non-negative value is required');
    }
    return first === 0 ? bytes.slice(1) : bytes;
  }

  /** RFC 4251 §5 name-list: comma-separated, non-empty US-ASCII names without commas. */
  readNameList(): string[] {
    const bytes = this.readString();
    if (bytes.length === 0) return [];
    for (const byte of bytes) {
      if (byte < 0x21 || byte > 0x7e) {
        throw new JitcaError(ErrorCodes.WIRE_INVALID, 'name-list holds a byte that is not printable US-ASCII');
      }
    }
    const names = Buffer.from(bytes).toString('latin1').split(',');
    if (names.some((name) => name.length === 0)) {
      throw new JitcaError(ErrorCodes.WIRE_INVALID, 'name-list holds an empty name');
    }
    return names;
  }

  /** Takes `length` raw bytes (fixed-size fields inside a string, e.g. an Ed25519 key). */
  readBytes(length: number): Uint8Array {
    this.#need(length, 'bytes');
    const value = this.#bytes.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  /** Strict parsing: anything after the last expected field is an error, not ignored. */
  ensureEnd(what = 'input'): void {
    if (this.remaining !== 0) {
      throw new JitcaError(
        ErrorCodes.WIRE_TRAILING_BYTES,
        `${what} has ${this.remaining} unexpected byte(s) after the last field`,
      );
    }
  }

  #need(length: number, what: string): void {
    if (length > this.remaining) {
      throw new JitcaError(
        ErrorCodes.WIRE_TRUNCATED,
        `${what} needs ${length} byte(s) but only ${this.remaining} remain`,
      );
    }
  }
}

function checkCanonicalMpint(bytes: Uint8Array): void {
  const first = bytes[0];
  const second = bytes[1];
  if (first === undefined) return;
  if (bytes.length === 1 && first === 0) {
    throw new JitcaError(ErrorCodes.WIRE_INVALID, 'mpint zero must be encoded as an empty string');
  }
  if (second === undefined) return;
  if ((first === 0x00 && (second & 0x80) === 0) || (first === 0xff && (second & 0x80) !== 0)) {
    throw new JitcaError(ErrorCodes.WIRE_INVALID, 'mpint has an unnecessary leading byte');
  }
}

/** Strings up to this many UTF-16 units try the ASCII copy before TextEncoder. */
const SHORT_STRING = 128;
/** First buffer size when the caller gives none; it doubles as needed. */
const INITIAL_WRITER_CAPACITY = 256;

/**
 * Appends fields into one growable buffer. Every write copies its input, so later changes to a
 * caller's bytes cannot alter what was written; toBytes returns a fresh, exactly-sized copy. One
 * buffer instead of a chunk per field: a certificate has ~30 fields, and a separate typed array
 * for each (plus its DataView) was most of the allocation and GC work of issuing one.
 */
export class SshWriter {
  #buffer: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(initialCapacity = INITIAL_WRITER_CAPACITY) {
    this.#buffer = new Uint8Array(initialCapacity);
    this.#view = new DataView(this.#buffer.buffer);
  }

  get length(): number {
    return this.#length;
  }

  writeUint32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
      throw new RangeError(`uint32 out of range: ${value}`);
    }
    this.#reserve(4);
    this.#view.setUint32(this.#length, value);
    this.#length += 4;
    return this;
  }

  writeUint64(value: bigint): this {
    if (value < 0n || value > UINT64_MAX) throw new RangeError(`uint64 out of range: ${value}`);
    this.#reserve(8);
    this.#view.setBigUint64(this.#length, value);
    this.#length += 8;
    return this;
  }

  /** string: a text argument is written as its UTF-8 bytes. */
  writeString(value: Uint8Array | string): this {
    if (typeof value !== 'string') {
      this.writeUint32(value.length);
      return this.#append(value);
    }
    // Encoded in place, length filled in afterwards. Room for one byte per UTF-16 unit first (all
    // of ASCII); anything wider is encoded again with room for the worst case, 3 bytes per unit.
    const lengthAt = this.#length;
    this.#reserve(4 + value.length);
    if (value.length <= SHORT_STRING && this.#writeAscii(value, lengthAt + 4)) {
      this.#view.setUint32(lengthAt, value.length);
      this.#length += 4 + value.length;
      return this;
    }
    let result = utf8Encoder.encodeInto(value, this.#buffer.subarray(lengthAt + 4));
    if (result.read < value.length) {
      this.#reserve(4 + value.length * 3);
      result = utf8Encoder.encodeInto(value, this.#buffer.subarray(lengthAt + 4));
    }
    this.#view.setUint32(lengthAt, result.written);
    this.#length += 4 + result.written;
    return this;
  }

  /**
   * string whose body is written by `body` into this same writer (nested structures such as a
   * certificate's principals or options sections): no intermediate buffer, the length is filled
   * in afterwards.
   */
  writeNestedString(body: (writer: this) => void): this {
    this.#reserve(4);
    const lengthAt = this.#length;
    this.#length += 4;
    body(this);
    this.#view.setUint32(lengthAt, this.#length - lengthAt - 4);
    return this;
  }

  /**
   * mpint: a bigint is written in canonical two's complement; a Uint8Array is taken as an unsigned
   * big-endian magnitude (leading zeros stripped, a 0x00 added when the top bit is set).
   */
  writeMpint(value: bigint | Uint8Array): this {
    if (typeof value === 'bigint') return this.writeString(bigintToMpintBody(value));
    let start = 0;
    while (start < value.length && value[start] === 0) start++;
    const first = value[start];
    if (first === undefined) return this.writeUint32(0);
    const magnitude = value.subarray(start);
    if ((first & 0x80) === 0) return this.writeString(magnitude);
    this.writeUint32(magnitude.length + 1);
    this.#reserve(1);
    this.#buffer[this.#length++] = 0;
    return this.#append(magnitude);
  }

  writeNameList(names: readonly string[]): this {
    for (const name of names) {
      if (name.length === 0 || !/^[\x21-\x2b\x2d-\x7e]+$/.test(name)) {
        throw new RangeError('name-list names must be non-empty printable US-ASCII without commas');
      }
    }
    return this.writeString(names.join(','));
  }

  /** Raw bytes with no length prefix (e.g. an already-encoded nested structure). */
  writeRaw(bytes: Uint8Array): this {
    return this.#append(bytes);
  }

  toBytes(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }

  /**
   * Copies an all-ASCII string byte for byte (its UTF-8 form); false, with nothing counted as
   * written, at the first non-ASCII unit. Names, key ids and principals are short ASCII, where this
   * beats a TextEncoder call and its subarray.
   */
  #writeAscii(value: string, at: number): boolean {
    const buffer = this.#buffer;
    for (let i = 0; i < value.length; i++) {
      const unit = value.charCodeAt(i);
      if (unit > 0x7f) return false;
      buffer[at + i] = unit;
    }
    return true;
  }

  #append(bytes: Uint8Array): this {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
    return this;
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buffer.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#buffer.length * 2));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }
}

function magnitudeToMpintBody(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const first = trimmed[0];
  if (first === undefined) return new Uint8Array(0);
  if ((first & 0x80) === 0) return trimmed.slice();
  const out = new Uint8Array(trimmed.length + 1);
  out.set(trimmed, 1);
  return out;
}

function bigintToMpintBody(value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array(0);
  if (value > 0n) return magnitudeToMpintBody(bigintToBytes(value));
  // Negative: smallest byte count whose two's complement keeps the sign bit set.
  let length = 1;
  while (value < -(1n << BigInt(length * 8 - 1))) length++;
  const out = new Uint8Array(length);
  let twos = (1n << BigInt(length * 8)) + value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(twos & 0xffn);
    twos >>= 8n;
  }
  return out;
}

/** Unsigned big-endian bytes of a non-negative bigint (empty for zero). */
export function bigintToBytes(value: bigint): Uint8Array {
  if (value < 0n) throw new RangeError('bigintToBytes needs a non-negative value');
  const hex = value === 0n ? '' : value.toString(16);
  const padded = hex.length % 2 === 0 ? hex : `0${hex}`;
  return Uint8Array.from(Buffer.from(padded, 'hex'));
}

/** Non-negative bigint from unsigned big-endian bytes. */
export function bytesToBigint(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}
