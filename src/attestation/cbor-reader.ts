import { ErrorCodes, JitcaError } from '../errors.ts';

/** The CBOR values WebAuthn authenticator data holds (RFC 8949): COSE keys and extension maps. */
export type CborValue = number | Uint8Array | string | boolean | null | CborValue[] | Map<number | string, CborValue>;

const MAX_DEPTH = 8;
const MAX_ITEMS = 256;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads one CBOR data item at `offset` and returns it with the offset after it, so a caller can
 * find where a COSE key inside authenticator data ends. Only what FIDO authenticators write:
 * definite lengths, integers up to 2^53, byte and text strings, arrays, maps with integer or text
 * keys, false/true/null. Anything else (indefinite lengths, tags, floats, duplicate map keys,
 * non-shortest heads) is ERR_ATTESTATION_MALFORMED.
 */
export function readCbor(bytes: Uint8Array, offset: number, depth = 0): { value: CborValue; end: number } {
  if (depth > MAX_DEPTH) throw malformed('nested too deeply');
  const initial = byteAt(bytes, offset);
  const major = initial >> 5;
  const { argument, end: headEnd } = readArgument(bytes, offset, initial & 0x1f);
  switch (major) {
    case 0:
      return { value: argument, end: headEnd };
    case 1:
      return { value: -1 - argument, end: headEnd };
    case 2:
    case 3: {
      const end = headEnd + argument;
      if (end > bytes.length) throw malformed('string runs past the end of the input');
      const raw = bytes.slice(headEnd, end);
      if (major === 2) return { value: raw, end };
      try {
        return { value: utf8.decode(raw), end };
      } catch {
        throw malformed('text string is not UTF-8');
      }
    }
    case 4:
    case 5:
      return major === 4 ? readArray(bytes, headEnd, argument, depth) : readMap(bytes, headEnd, argument, depth);
    default:
      if (major === 7 && argument >= 20 && argument <= 22 && (initial & 0x1f) < 24) {
        return { value: argument === 22 ? null : argument === 21, end: headEnd };
      }
      throw malformed(`major type ${major} (${initial.toString(16)}) is not used in authenticator data`);
  }
}

function readArray(bytes: Uint8Array, offset: number, count: number, depth: number): { value: CborValue[]; end: number } {
  if (count > MAX_ITEMS) throw malformed(`array of ${count} items`);
  const items: CborValue[] = [];
  let end = offset;
  for (let index = 0; index < count; index += 1) {
    const item = readCbor(bytes, end, depth + 1);
    items.push(item.value);
    end = item.end;
  }
  return { value: items, end };
}

function readMap(bytes: Uint8Array, offset: number, count: number, depth: number): { value: Map<number | string, CborValue>; end: number } {
  if (count > MAX_ITEMS) throw malformed(`map of ${count} entries`);
  const map = new Map<number | string, CborValue>();
  let end = offset;
  for (let index = 0; index < count; index += 1) {
    const key = readCbor(bytes, end, depth + 1);
    if (typeof key.value !== 'number' && typeof key.value !== 'string') throw malformed('map key is not an integer or text');
    if (map.has(key.value)) throw malformed(`map key ${String(key.value)} appears twice`);
    const value = readCbor(bytes, key.end, depth + 1);
    map.set(key.value, value.value);
    end = value.end;
  }
  return { value: map, end };
}

function readArgument(bytes: Uint8Array, offset: number, info: number): { argument: number; end: number } {
  if (info < 24) return { argument: info, end: offset + 1 };
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
  if (size === 0) throw malformed(`additional information ${info} (indefinite length or reserved) is not accepted`);
  let argument = 0;
  for (let index = 1; index <= size; index += 1) argument = argument * 256 + byteAt(bytes, offset + index);
  if (!Number.isSafeInteger(argument)) throw malformed('integer larger than 2^53');
  // Deterministic encoding (RFC 8949 §4.2.1): the shortest head.
  const shortest = argument < 24 ? 0 : argument < 0x100 ? 1 : argument < 0x10000 ? 2 : argument < 0x100000000 ? 4 : 8;
  if (size !== shortest) throw malformed('integer or length not in its shortest form');
  return { argument, end: offset + 1 + size };
}

function byteAt(bytes: Uint8Array, offset: number): number {
  const value = bytes[offset];
  if (value === undefined) throw malformed('input ends inside an item');
  return value;
}

function malformed(message: string): JitcaError {
  return new JitcaError(ErrorCodes.ATTESTATION_MALFORMED, `CBOR: ${message}`);
}
