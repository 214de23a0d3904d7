/**
 * The slow, literal reading of RFC 8032 §5.1.3 (decode x by the square root), then [8]P by three
 * doublings: the oracle src/keys/ed25519-point.ts is checked against. Production code decides the
 * same with a Jacobi symbol and the known y of the small-order points, at a fraction of the cost.
 */
const P = 2n ** 255n - 19n;
/** d = -121665/121666 (RFC 8032 §5.1). */
const D = mod(-121665n * inverse(121666n));
/** sqrt(-1) = 2^((p-1)/4), used when the first square-root candidate is off by that factor (§5.1.3 step 3). */
const SQRT_M1 = power(2n, (P - 1n) / 4n);

/** Why `encoded` is no usable Ed25519 public key, or undefined when it is one. */
export function referencePointWeakness(encoded: Uint8Array): string | undefined {
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
