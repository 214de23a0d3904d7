/**
 * Mutations of real inputs, as fast-check arbitraries: byte flips and overwrites, truncation,
 * insertion, deletion, length-field edits (SSH uint32 lengths and DER length octets), and
 * splicing two inputs. Coverage-free: the mutations are chosen for the formats, not by feedback.
 */
import fc from 'fast-check';

type Mutation = (input: Uint8Array, other: Uint8Array) => Uint8Array;

/** Lengths that make readers overrun, underrun, or allocate: the edges of 0, the input and 2^31/2^32. */
const INTERESTING_LENGTHS = [0, 1, 2, 3, 4, 7, 8, 31, 32, 33, 63, 64, 127, 128, 255, 256, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

const at = (input: Uint8Array, position: number): number => (input.length === 0 ? 0 : position % input.length);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // One bit flipped.
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([position, bit]): Mutation => (input) => {
    const out = input.slice();
    if (out.length > 0) out[at(out, position)] = (out[at(out, position)] ?? 0) ^ (1 << bit);
    return out;
  }),
  // One byte overwritten with an edge value or anything.
  fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff, 0x30, 0x04, 0x20), fc.integer({ min: 0, max: 255 }))).map(
    ([position, value]): Mutation => (input) => {
      const out = input.slice();
      if (out.length > 0) out[at(out, position)] = value;
      return out;
    },
  ),
  // Cut at a point, from the end or the start.
  fc.tuple(fc.nat(), fc.boolean()).map(([position, fromStart]): Mutation => (input) => {
    const cut = at(input, position);
    return fromStart ? input.slice(cut) : input.slice(0, cut);
  }),
  // Bytes inserted or deleted in the middle.
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([position, bytes]): Mutation => (input) => {
    const p = at(input, position);
    return concat(input.subarray(0, p), bytes, input.subarray(p));
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 16 })).map(([position, count]): Mutation => (input) => {
    const p = at(input, position);
    return concat(input.subarray(0, p), input.subarray(p + count));
  }),
  // A big-endian uint32 (an SSH string length) rewritten.
  fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...INTERESTING_LENGTHS), fc.integer({ min: -4, max: 4 }))).map(
    ([position, value]): Mutation => (input) => {
      const out = input.slice();
      if (out.length < 4) return out;
      const p = position % (out.length - 3);
      const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
      // Small values are deltas to the length already there: off by a few is the common bug.
      const next = value >= -4 && value <= 4 ? (view.getUint32(p) + value) >>> 0 : value >>> 0;
      view.setUint32(p, next);
      return out;
    },
  ),
  // A DER length octet turned long-form, indefinite, or oversized.
  fc.tuple(fc.nat(), fc.constantFrom(0x80, 0x81, 0x82, 0x84, 0x85, 0xff, 0x00, 0x7f)).map(([position, octet]): Mutation => (input) => {
    const out = input.slice();
    if (out.length < 2) return out;
    // Length octets follow an identifier; aim at the second byte of some element-looking spot.
    const p = 1 + (position % (out.length - 1));
    out[p] = octet;
    return out;
  }),
  // Splice: the start of this input with the end of another (or of itself).
  fc.tuple(fc.nat(), fc.nat()).map(([left, right]): Mutation => (input, other) =>
    concat(input.subarray(0, at(input, left)), other.subarray(at(other, right))),
  ),
  // A run duplicated: repeated sections, options, RDNs.
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 64 })).map(([position, length]): Mutation => (input) => {
    const p = at(input, position);
    const run = input.subarray(p, p + length);
    return concat(input.subarray(0, p), run, run, input.subarray(p + run.length));
  }),
);

/** One to four mutations of a seed (spliced, when chosen, with another seed). */
export function mutatedBytes(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  if (seeds.length === 0) throw new Error('mutatedBytes needs at least one seed');
  return fc
    .tuple(fc.constantFrom(...seeds), fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([seed, other, mutations]) => mutations.reduce((input, mutate) => mutate(input, other), seed));
}

/** The same for text formats: mutated as latin1 bytes, so any byte can land in the string. */
export function mutatedText(seeds: readonly string[]): fc.Arbitrary<string> {
  const asBytes = seeds.map((seed) => Uint8Array.from(Buffer.from(seed, 'utf8')));
  return fc.oneof(
    mutatedBytes(asBytes).map((bytes) => Buffer.from(bytes).toString('latin1')),
    mutatedBytes(asBytes).map((bytes) => Buffer.from(bytes).toString('utf8')),
  );
}
