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
 * is fine; one decode and three doublings take about 0.2 ms.
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
/** d = -121665/121666 (RFC 8032 §5.1). */
const D = mod(-121665n * inverse(121666n));
/** sqrt(-1) = 2^((p-1)/4), used when the first square-root candidate is off by that factor (§5.1.3 step 3). */
const SQRT_M1 = power(2n, (P - 1n) / 4n);

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

/** Why `encoded` is no usable Ed25519 public key, or undefined when it is one. */
export function ed25519PointWeakness(encoded: Uint8Array): Ed25519PointWeakness | undefined {
  if (encoded.length !== 32) return 'length';
  const point = decodePoint(encoded);
  if (typeof point === 'string') return point;
  let multiple = point;
  for (let doubling = 0; doubling < 3; doubling += 1) multiple = double(multiple);
  const [x, y, z] = multiple;
  return x === 0n && y === z ? 'small-order' : undefined;
}

/** Projective coordinates (X : Y : Z) with x = X/Z, y = Y/Z: doubling needs no inversion. */
type Projective = readonly [bigint, bigint, bigint];

/** RFC 8032 §5.1.3, as an affine point lifted to projective coordinates. */
function decodePoint(encoded: Uint8Array): Projective | 'non-canonical' | 'not-on-curve' {
  let y = 0n;
  for (let index = 31; index >= 0; index -= 1) y = (y << 8n) | BigInt(encoded[index] ?? 0);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  if (y >= P) return 'non-canonical';
  // x² = (y² - 1) / (d y² + 1); candidate x = u v³ (u v⁷)^((p-5)/8).
  const y2 = mod(y * y);
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  const v3 = mod(v * v * v);
  let x = mod(u * v3 * power(mod(u * v3 * v3 * v), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
  else if (vx2 !== u) return 'not-on-curve';
  if (x === 0n && sign === 1n) return 'not-on-curve';
  if ((x & 1n) !== sign) x = P - x;
  return [x, y, 1n];
}

/**
 * dbl-2008-hwcd for a = -1 (Hisil, Wong, Carter, Dawson, "Twisted Edwards Curves Revisited",
 * 2008). Its denominators are y² - x² = 1 + d x²y² and 2 - (y² - x²) = 1 - d x²y², never zero on
 * this curve because d is not a square mod p, so it is correct for every point, torsion points
 * included.
 */
function double([x1, y1, z1]: Projective): Projective {
  const a = mod(x1 * x1);
  const b = mod(y1 * y1);
  const c = mod(2n * z1 * z1);
  const h = mod(-a - b); // D - B with D = a·A = -A
  const e = mod((x1 + y1) * (x1 + y1) - a - b);
  const g = mod(b - a); // D + B
  const f = mod(g - c);
  return [mod(e * f), mod(g * h), mod(f * g)];
}

function mod(value: bigint): bigint {
  const remainder = value % P;
  return remainder < 0n ? remainder + P : remainder;
}

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let square = mod(base);
  for (let rest = exponent; rest > 0n; rest >>= 1n) {
    if ((rest & 1n) === 1n) result = mod(result * square);
    square = mod(square * square);
  }
  return result;
}

function inverse(value: bigint): bigint {
  return power(value, P - 2n); // Fermat: p is prime
}
