/**
 * The pure part of the step-ca peer bench (bench/peer/report.ts): its command line and the ratios
 * issue 16 sets as targets. Nothing here is timed; the bench itself is run by hand.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PEER_OPTIONS, formatRatios, parsePeerOptions, ratios, roundOrder, spread } from '../../bench/peer/report.ts';

describe('peer bench options', () => {
  it('defaults to 5 rounds of 10 s phases and a 500/s open loop', () => {
    expect(parsePeerOptions([])).toEqual({ rounds: 5, seconds: 10, warmupSeconds: 2, maxRate: 3000, rate: 500, jitcaTls: false });
  });

  it('reads each flag', () => {
    expect(parsePeerOptions(['--rounds', '1', '--seconds', '3', '--jitca-tls', '--warmup', '0.5', '--max-rate', '2500', '--rate', '1000', '--jitca-base', '/work/base'])).toEqual({
      rounds: 1,
      seconds: 3,
      warmupSeconds: 0.5,
      maxRate: 2500,
      rate: 1000,
      jitcaTls: true,
      jitcaBase: '/work/base',
    });
  });

  it.each([
    [['--round', '3'], /unknown option --round/],
    [['--rounds'], /--rounds must be a number/],
    [['--rounds', '2.5'], /whole number/],
    [['--seconds', '0'], /--seconds must be a number/],
    [['--seconds', '-3'], /--seconds must be a number/],
    [['--max-rate', 'lots'], /--max-rate must be a number/],
    [['--max-rate', '1e9'], /--max-rate must be a number in \(0, 20000\]/],
    [['--jitca-base'], /--jitca-base needs the directory/],
    [['--jitca-base', '--rounds', '2'], /--jitca-base needs the directory/],
  ])('refuses %j', (argv, message) => {
    expect(() => parsePeerOptions(argv)).toThrow(message);
  });

  it('leaves the defaults unchanged', () => {
    parsePeerOptions(['--rounds', '9']);
    expect(DEFAULT_PEER_OPTIONS.rounds).toBe(5);
  });
});

describe("issue 16's ratios", () => {
  const stepCa = { rate: 2000, cpuMicroseconds: 700, p99: 10 };

  it('meets all three targets when jitca is 1.25x the rate at 0.8x the CPU and no worse p99', () => {
    expect(ratios({ rate: 2500, cpuMicroseconds: 560, p99: 10 }, stepCa)).toEqual({
      rate: 1.25,
      cpu: 0.8,
      p99Difference: 0,
      rateMet: true,
      cpuMet: true,
      p99Met: true,
    });
  });

  it('misses each target on its own side of the line', () => {
    const r = ratios({ rate: 1400, cpuMicroseconds: 945, p99: 14.5 }, stepCa);
    expect(r.rate).toBeCloseTo(0.7);
    expect(r.cpu).toBeCloseTo(1.35);
    expect(r.p99Difference).toBeCloseTo(4.5);
    expect([r.rateMet, r.cpuMet, r.p99Met]).toEqual([false, false, false]);
  });

  it('says which targets are met', () => {
    expect(formatRatios('jitca P-256', ratios({ rate: 3000, cpuMicroseconds: 700, p99: 8 }, stepCa))).toBe(
      'jitca P-256 / step-ca: rate 1.50x (target >= 1.25: met), CPU/cert 1.00x (target <= 0.8: not met), p99 -2.0 ms (target <= 0: met)',
    );
  });
});

describe('rounds', () => {
  it('rotates the order each round so no server always runs first', () => {
    const servers = ['step-ca', 'ed25519', 'p256'];
    expect([0, 1, 2, 3].map((round) => roundOrder(servers, round)[0])).toEqual(['step-ca', 'ed25519', 'p256', 'step-ca']);
    expect(roundOrder(servers, 1)).toEqual(['ed25519', 'p256', 'step-ca']);
  });

  it('summarizes a figure as min, median and max', () => {
    expect(spread([3, 1, 2])).toEqual({ min: 1, median: 2, max: 3 });
    expect(spread([4, 1, 3, 2])).toEqual({ min: 1, median: 2.5, max: 4 });
    expect(spread([])).toEqual({ min: NaN, median: NaN, max: NaN });
  });
});
