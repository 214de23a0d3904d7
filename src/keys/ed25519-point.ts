/**
 * Checks that 32 bytes are an Ed25519 public key someone can hold the private half of: the
 * canonical encoding of a curve point outside the small torsion subgroup (RFC 8032 §5.1.3
 * decoding, then [8]P ≠ identity). Node (OpenSSL) takes any 32 bytes as an Ed25519 public key,
 * and OpenSSH verifies cofactorless: for the identity key (y = 1) the one signature R = B, S = 1
 * verifies for every message, so a certificate for it is a login for whoever reads it.
 *
 * A point with a small-order component next to a large one ([8]P ≠ identity) passes: forging for
 * it needs the large component's discrete log, as for any key. Refusing those too would take a
 * full multiplication by the group order L on every issuance, and no key generator makes them.
 *
 * Shared by the SSH key parser (ssh-ed25519 and sk-ssh-ed25519@openssh.com) and the X.509
 * SubjectPublicKeyInfo reader. Public values only, so plain BigInt arithmetic (not constant time)
 * is fine.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';

export type Ed25519PointWeakness =
  /** Not 32 bytes. */
  | 'length'
  /** y ≥ p: a second spelling of a point (RFC 8032 §5.1.3 step 1 says decoding fails). */
  | 'non-canonical'
  /** No x satisfies the curve equation for this y, or x = 0 with the sign bit set (steps 2-4). */
  | 'not-on-curve'
  /** One of the eight points of order dividing 8 (the identity among them): [8]P is the identity. */
  | 'small-order';

const P = 2n ** 255n - 19n;
const Y_MASK = (1n << 255n) - 1n;
/** d = -121665/121666 (RFC 8032 §5.1). */
const D = mod(-121665n * inverse(121666n));
/**
 * The y of the points of order 8 (libsodium's small-order blocklist, ref10.c has_small_order:
 * c7176a70…ac037a little-endian) and its negation; with y = 0 (order 4) and y = ±1 (the identity
 * and the point of order 2, x = 0) these are the eight points with [8]P the identity.
 */
const Y_ORDER_8 = 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n;
const SMALL_ORDER_Y: ReadonlySet<bigint> = new Set([0n, Y_ORDER_8, P - Y_ORDER_8]);

const WHY: Readonly<Record<Ed25519PointWeakness, string>> = {
  length: 'is not 32 bytes (RFC 8032 §5.1.5)',
  'non-canonical': 'is a non-canonical encoding (y is not below p, RFC 8032 §5.1.3)',
  'not-on-curve': 'does not decode to a curve point (RFC 8032 §5.1.3)',
  'small-order': 'is a point of small order (the identity or a torsion point), for which anyone can forge signatures',
};

/** Throws ERR_KEY_INVALID_POINT unless `encoded` is a usable Ed25519 public key. */
export function assertUsableEd25519Key(encoded: Uint8Array, what = 'Ed25519 public key'): void {
  const weakness = ed25519PointWeakness(encoded);
  if (weakness === undefined) return;
  throw new JitcaError(ErrorCodes.KEY_INVALID_POINT, `${what} ${WHY[weakness]}`, { details: { reason: weakness } });
}

/**
 * Why `encoded` is no usable Ed25519 public key, or undefined when it is one. RFC 8032 §5.1.3
 * decodes y and then needs x² = u/v with u = y² - 1, v = d y² + 1 to be a square (v is never zero:
 * -1/d is not a square mod p). Whether it is a square is the Legendre symbol of u·v (= u/v times
 * v²), computed as a Jacobi symbol by the Euclid-like algorithm: about a tenth of the cost of the
 * square root the full decoding takes, and it runs for every Ed25519 key that reaches a
 * certificate. x itself is never needed: the eight small-order points are known by their y.
 */
export function ed25519PointWeakness(encoded: Uint8Array): Ed25519PointWeakness | undefined {
  if (encoded.length !== 32) return 'length';
  let value = 0n;
  for (let index = 31; index >= 0; index -= 1) value = (value << 8n) | BigInt(encoded[index] ?? 0);
  const xIsOdd = value >> 255n === 1n;
  const y = value & Y_MASK;
  if (y >= P) return 'non-canonical';
  const y2 = mod(y * y);
  const u = mod(y2 - 1n);
  // x = 0 (y = ±1): the identity and the point of order 2, or step 4's "x = 0 and x_0 = 1" failure.
  if (u === 0n) return xIsOdd ? 'not-on-curve' : 'small-order';
  if (jacobiSymbol(mod(u * mod(D * y2 + 1n)), P) !== 1) return 'not-on-curve';
  return SMALL_ORDER_Y.has(y) ? 'small-order' : undefined;
}

/** (a/n) for odd n > 0: quadratic reciprocity and the rule for 2, no exponentiation. */
function jacobiSymbol(a: bigint, n: bigint): -1 | 0 | 1 {
  let sign: -1 | 1 = 1;
  let top = a % n;
  let bottom = n;
  while (top !== 0n) {
    while ((top & 1n) === 0n) {
      top >>= 1n;
      const residue = Number(bottom & 7n);
      if (residue === 3 || residue === 5) sign = sign === 1 ? -1 : 1;
    }
    [top, bottom] = [bottom, top];
    if (Number(top & 3n) === 3 && Number(bottom & 3n) === 3) sign = sign === 1 ? -1 : 1;
    top %= bottom;
  }
  return bottom === 1n ? sign : 0;
}

function mod(value: bigint): bigint {
  const remainder = value % P;
  return remainder < 0n ? remainder + P : remainder;
}

function inverse(value: bigint): bigint {
  // Fermat (p is prime); once, at load, for d.
  let result = 1n;
  let square = mod(value);
  for (let rest = P - 2n; rest > 0n; rest >>= 1n) {
    if ((rest & 1n) === 1n) result = mod(result * square);
    square = mod(square * square);
  }
  return result;
}
