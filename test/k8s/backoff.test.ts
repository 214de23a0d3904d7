import { describe, expect, it } from 'vitest';
import { createBackoff } from '../../src/k8s/backoff.ts';

describe('createBackoff', () => {
  it('doubles up to the cap, with each delay between half and all of its step', () => {
    const low = createBackoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    const high = createBackoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect(Array.from({ length: 6 }, () => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    expect(Array.from({ length: 6 }, () => high.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('spreads retries of many clients instead of syncing them', () => {
    const delays = Array.from({ length: 200 }, () => createBackoff({ initialMs: 1000 }).next());
    expect(new Set(delays).size).toBeGreaterThan(50);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1000);
  });

  it('starts over after reset()', () => {
    const backoff = createBackoff({ initialMs: 100, random: () => 0 });
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.failures).toBe(0);
    expect(backoff.next()).toBe(50);
  });
});
