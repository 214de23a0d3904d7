import { describe, expect, it } from 'vitest';
import { freshRandomBytes } from '../../src/ssh/random-pool.ts';

describe('freshRandomBytes', () => {
  it('hands out fresh bytes of the asked length, never the same twice, across block refills', () => {
    const seen = new Set<string>();
    // 1,000 draws of 32 bytes cross several 8 KiB refills.
    for (let draw = 0; draw < 1000; draw += 1) {
      const bytes = freshRandomBytes(32);
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(bytes.length).toBe(32);
      seen.add(Buffer.from(bytes).toString('hex'));
    }
    expect(seen.size).toBe(1000);
  });

  it('gives each draw a buffer of its own, not a view of the pool', () => {
    const first = freshRandomBytes(16);
    const copy = Uint8Array.from(first);
    freshRandomBytes(16);
    expect(first.byteLength).toBe(first.buffer.byteLength);
    expect(first).toEqual(copy);
  });

  it('refuses a draw larger than its block or not a whole number of bytes', () => {
    expect(() => freshRandomBytes(8193)).toThrow(RangeError);
    expect(() => freshRandomBytes(-1)).toThrow(RangeError);
    expect(() => freshRandomBytes(1.5)).toThrow(RangeError);
  });
});
