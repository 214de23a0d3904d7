/**
 * The pure part of bench/peer-step-ca.ts: its command line, and the ratios issue 16 sets as
 * targets, computed from one round's measurements of the two servers:
 *   - rate ratio  = jitca's saturated rate / step-ca's           (target >= 1.25)
 *   - CPU ratio   = jitca's server CPU per certificate / step-ca's (target <= 0.8)
 *   - p99 at the open-loop rate: jitca's not above step-ca's.
 */
export interface PeerOptions {
  rounds: number;
  /** Length of the saturated and of the open-loop phase. */
  seconds: number;
  warmupSeconds: number;
  /** Requests (single-use tokens) prepared per second of a closed-loop phase. */
  maxRate: number;
  /** The open-loop phase's rate. */
  rate: number;
  /** jitca serves HTTPS as step-ca does (default: plain HTTP, as bench/api.ts and issue 16's figures). */
  jitcaTls: boolean;
  /**
   * Another checkout of jitca (a git worktree with node_modules) to run in the same rounds as
   * "jitca base", both key types: a change's before and after under the same machine conditions.
   */
  jitcaBase?: string;
}

export const DEFAULT_PEER_OPTIONS: PeerOptions = { rounds: 5, seconds: 10, warmupSeconds: 2, maxRate: 3000, rate: 500, jitcaTls: false };

type NumberOption = Exclude<keyof PeerOptions, 'jitcaTls' | 'jitcaBase'>;

const NUMBER_FLAGS: Record<string, NumberOption> = {
  '--rounds': 'rounds',
  '--seconds': 'seconds',
  '--warmup': 'warmupSeconds',
  '--max-rate': 'maxRate',
  '--rate': 'rate',
};

/** Bounds that keep a mistyped flag from minting millions of tokens or running for hours. */
const LIMITS: Record<NumberOption, number> = { rounds: 50, seconds: 120, warmupSeconds: 30, maxRate: 20_000, rate: 5000 };

export function parsePeerOptions(argv: string[]): PeerOptions {
  const options = { ...DEFAULT_PEER_OPTIONS };
  let i = 0;
  while (i < argv.length) {
    const flag = argv[i]!;
    if (flag === '--jitca-tls') {
      options.jitcaTls = true;
      i += 1;
      continue;
    }
    if (flag === '--jitca-base') {
      const dir = argv[i + 1];
      if (dir === undefined || dir.startsWith('--')) throw new Error('--jitca-base needs the directory of another jitca checkout');
      options.jitcaBase = dir;
      i += 2;
      continue;
    }
    const key = NUMBER_FLAGS[flag];
    if (key === undefined) throw new Error(`unknown option ${flag} (known: ${[...Object.keys(NUMBER_FLAGS), '--jitca-tls', '--jitca-base'].join(', ')})`);
    const value = Number(argv[i + 1]);
    if (!Number.isFinite(value) || value <= 0 || value > LIMITS[key]) throw new Error(`${flag} must be a number in (0, ${LIMITS[key]}]`);
    if (key === 'rounds' && !Number.isInteger(value)) throw new Error('--rounds must be a whole number');
    options[key] = value;
    i += 2;
  }
  return options;
}

export interface ServerFigures {
  rate: number;
  cpuMicroseconds: number;
  p99: number;
}

export interface Ratios {
  rate: number;
  cpu: number;
  /** jitca's p99 minus step-ca's, in ms: at most 0 meets the target. */
  p99Difference: number;
  rateMet: boolean;
  cpuMet: boolean;
  p99Met: boolean;
}

export const RATE_TARGET = 1.25;
export const CPU_TARGET = 0.8;

export function ratios(jitca: ServerFigures, stepCa: ServerFigures): Ratios {
  const rate = jitca.rate / stepCa.rate;
  const cpu = jitca.cpuMicroseconds / stepCa.cpuMicroseconds;
  const p99Difference = jitca.p99 - stepCa.p99;
  return { rate, cpu, p99Difference, rateMet: rate >= RATE_TARGET, cpuMet: cpu <= CPU_TARGET, p99Met: p99Difference <= 0 };
}

/** The order of the servers in round `round` (0-based): rotated each round, so none always runs first or last. */
export function roundOrder<T>(servers: readonly T[], round: number): T[] {
  const shift = round % servers.length;
  return [...servers.slice(shift), ...servers.slice(0, shift)];
}

/** min / median / max of one figure over the rounds. */
export function spread(values: number[]): { min: number; median: number; max: number } {
  if (values.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { min: sorted[0]!, median, max: sorted.at(-1)! };
}

export function formatRatios(name: string, r: Ratios): string {
  const mark = (met: boolean) => (met ? 'met' : 'not met');
  return (
    `${name} / step-ca: rate ${r.rate.toFixed(2)}x (target >= ${RATE_TARGET}: ${mark(r.rateMet)}), ` +
    `CPU/cert ${r.cpu.toFixed(2)}x (target <= ${CPU_TARGET}: ${mark(r.cpuMet)}), ` +
    `p99 ${r.p99Difference >= 0 ? '+' : ''}${r.p99Difference.toFixed(1)} ms (target <= 0: ${mark(r.p99Met)})`
  );
}
