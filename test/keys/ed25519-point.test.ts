import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { assertUsableEd25519Key, ed25519PointWeakness } from '../../src/keys/ed25519-point.ts';
import { ErrorCodes, JitcaError } from '../../src/errors.ts';
import fc from 'fast-check';
import { referencePointWeakness } from '../support/ed25519-reference.ts';
import { SMALL_ORDER_ENCODINGS } from '../support/weak-ed25519.ts';

const hex = (value: string): Uint8Array => Uint8Array.from(Buffer.from(value, 'hex'));
/** y as 32 little-endian bytes, with the sign bit of x on top. */
const encode = (y: bigint, sign = 0): Uint8Array => {
  const bytes = new Uint8Array(32);
  let rest = y;
  for (let index = 0; index < 32; index += 1) {
    bytes[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  bytes[31] = (bytes[31] ?? 0) | (sign << 7);
  return bytes;
};
const P = 2n ** 255n - 19n;

describe('ed25519PointWeakness', () => {
  it('finds each of the eight small-order points', () => {
    for (const encoding of SMALL_ORDER_ENCODINGS) expect(ed25519PointWeakness(hex(encoding)), encoding).toBe('small-order');
  });

  it('refuses every y from p to 2^255 - 1 (y = p and p + 1 spell the order-4 points and the identity again), either sign', () => {
    for (let y = P; y < 2n ** 255n; y += 1n) {
      for (const sign of [0, 1]) expect(ed25519PointWeakness(encode(y, sign)), `y = p + ${y - P}`).toBe('non-canonical');
    }
    // C2SP/CCTV ed25519vectors.json flags this key "non_canonical_A".
    expect(ed25519PointWeakness(hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'))).toBe('non-canonical');
  });

  it('refuses x = 0 with the sign bit set (RFC 8032 §5.1.3 step 4) and a y with no x on the curve', () => {
    expect(ed25519PointWeakness(encode(1n, 1))).toBe('not-on-curve');
    expect(ed25519PointWeakness(encode(P - 1n, 1))).toBe('not-on-curve');
    expect(ed25519PointWeakness(encode(2n))).toBe('not-on-curve'); // (y² - 1)/(d y² + 1) is no square for y = 2
  });

  it('refuses anything but 32 bytes', () => {
    expect(ed25519PointWeakness(new Uint8Array(31))).toBe('length');
    expect(ed25519PointWeakness(new Uint8Array(33))).toBe('length');
  });

  it('accepts the base point and 300 keys from OpenSSL', () => {
    expect(ed25519PointWeakness(hex('5866666666666666666666666666666666666666666666666666666666666666'))).toBeUndefined();
    for (let index = 0; index < 300; index += 1) {
      const { x } = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
      expect(ed25519PointWeakness(Uint8Array.from(Buffer.from(x ?? '', 'base64url'))), x).toBeUndefined();
    }
  });

  it('accepts a point with a torsion component next to a large one ([8]P is not the identity)', () => {
    // C2SP/CCTV: "low_order_component_A" but not "low_order"; forging for it needs a discrete log.
    expect(ed25519PointWeakness(hex('10eb7c3acfb2bed3e0d6ab89bf5a3d6afddd1176ce4812e38d9fd485058fdb1f'))).toBeUndefined();
  });

  it('assertUsableEd25519Key throws ERR_KEY_INVALID_POINT naming the reason', () => {
    let thrown: unknown;
    try {
      assertUsableEd25519Key(hex(SMALL_ORDER_ENCODINGS[0] ?? ''));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(JitcaError);
    expect(thrown).toMatchObject({ code: ErrorCodes.KEY_INVALID_POINT, details: { reason: 'small-order' } });
    expect(() => assertUsableEd25519Key(encode(P + 1n))).toThrow(/non-canonical/);
  });

  it('decides as the literal RFC 8032 decoding with [8]P does (square root, three doublings)', () => {
    const ys = [0n, 1n, 2n, 3n, P - 1n, P - 2n, P, P + 1n, 2n ** 255n - 1n, ...SMALL_ORDER_ENCODINGS.map((encoding) => BigInt(`0x${Buffer.from(hex(encoding)).reverse().toString('hex')}`) & ((1n << 255n) - 1n))];
    for (const y of ys) for (const sign of [0, 1]) expect(ed25519PointWeakness(encode(y, sign)), `y = ${y}`).toBe(referencePointWeakness(encode(y, sign)));
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        expect(ed25519PointWeakness(bytes)).toBe(referencePointWeakness(bytes));
      }),
      { numRuns: 3000, seed: 20261204 },
    );
  });
});
