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

export class SshWriter {
  #chunks: Uint8Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  writeUint32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
      throw new RangeError(`uint32 out of range: ${value}`);
    }
    const chunk = new Uint8Array(4);
    new DataView(chunk.buffer).setUint32(0, value);
    return this.#push(chunk);
  }

  writeUint64(value: bigint): this {
    if (value < 0n || value > UINT64_MAX) throw new RangeError(`uint64 out of range: ${value}`);
    const chunk = new Uint8Array(8);
    new DataView(chunk.buffer).setBigUint64(0, value);
    return this.#push(chunk);
  }

  /** string: a text argument is written as its UTF-8 bytes. */
  writeString(value: Uint8Array | string): this {
    const bytes = typeof value === 'string' ? utf8Encoder.encode(value) : value;
    this.writeUint32(bytes.length);
    return this.#push(bytes.slice());
  }

  /**
   * mpint: a bigint is written in canonical two's complement; a Uint8Array is taken as an unsigned
   * big-endian magnitude (leading zeros stripped, a 0x00 added when the top bit is set).
   */
  writeMpint(value: bigint | Uint8Array): this {
    return this.writeString(typeof value === 'bigint' ? bigintToMpintBody(value) : magnitudeToMpintBody(value));
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
    return this.#push(bytes.slice());
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  #push(chunk: Uint8Array): this {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
    return this;
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
