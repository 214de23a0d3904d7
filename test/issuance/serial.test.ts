import { describe, expect, it } from 'vitest';
import { randomSerial } from '../../src/issuance/serial.ts';

describe('randomSerial', () => {
  it('hands out non-zero 64-bit serials, each once, across several refills of its random block', () => {
    const serials = Array.from({ length: 2000 }, () => randomSerial());
    for (const serial of serials) {
      expect(serial).toBeGreaterThan(0n);
      expect(serial).toBeLessThan(1n << 64n);
    }
    // 2000 draws from 2^64 collide with probability ~1e-13: a repeat means a reused block entry.
    expect(new Set(serials).size).toBe(serials.length);
    // Uniform 64-bit values: the top bit is set about half the time (1000 ± ~22 for 2000 draws).
    const topBitSet = serials.filter((serial) => serial >= 1n << 63n).length;
    expect(topBitSet).toBeGreaterThan(800);
    expect(topBitSet).toBeLessThan(1200);
  });
});
