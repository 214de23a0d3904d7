import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isJitcaError } from '../../src/errors.ts';
import { MAX_DURATION_SECONDS, formatDuration, parseDuration } from '../../src/policy/duration.ts';

describe('parseDuration', () => {
  it.each([
    ['90s', 90],
    ['30m', 1800],
    ['1h', 3600],
    ['1h30m', 5400],
    ['2h15s', 7215],
    ['1h1m1s', 3661],
    ['90m', 5400],
    ['1800', 1800],
    ['1', 1],
  ])('%s is %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    ['', 'empty'],
    ['0', 'zero'],
    ['0s', 'zero with unit'],
    ['0h0m', 'zero in units'],
    ['-30m', 'negative'],
    ['-1', 'negative seconds'],
    ['30 m', 'space'],
    [' 30m', 'leading space'],
    ['30M', 'upper-case unit'],
    ['30min', 'long unit'],
    ['1d', 'days are not a unit here'],
    ['30m1h', 'units out of order'],
    ['1h1h', 'unit twice'],
    ['1.5h', 'fraction'],
    ['1e3', 'exponent'],
    ['0x10', 'hex'],
    ['030m', 'leading zero'],
    ['h', 'unit without number'],
    ['99999999999999999999h', 'overflow'],
    [String(MAX_DURATION_SECONDS + 1), 'just above the maximum'],
    ['1h\n', 'trailing newline'],
  ])('refuses %j (%s) with ERR_TTL_INVALID', (text) => {
    let caught: unknown;
    try {
      parseDuration(text);
    } catch (error) {
      caught = error;
    }
    expect(isJitcaError(caught, 'ERR_TTL_INVALID')).toBe(true);
  });

  it('refuses non-strings with ERR_TTL_INVALID', () => {
    expect(() => parseDuration(1800 as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_TTL_INVALID' }));
  });

  it('accepts the maximum itself', () => {
    expect(parseDuration(String(MAX_DURATION_SECONDS))).toBe(MAX_DURATION_SECONDS);
  });

  it('random text either parses to a positive whole number or throws ERR_TTL_INVALID', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        try {
          const seconds = parseDuration(text);
          expect(Number.isSafeInteger(seconds) && seconds > 0 && seconds <= MAX_DURATION_SECONDS).toBe(true);
        } catch (error) {
          expect(isJitcaError(error, 'ERR_TTL_INVALID')).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [1800, '30m'],
    [5400, '1h30m'],
    [3600, '1h'],
    [90, '1m30s'],
    [45, '45s'],
    [90_000, '25h'],
    [0, '0s'],
  ])('%i -> %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('refuses negative and fractional seconds', () => {
    expect(() => formatDuration(-1)).toThrow(expect.objectContaining({ code: 'ERR_TTL_INVALID' }));
    expect(() => formatDuration(1.5)).toThrow(expect.objectContaining({ code: 'ERR_TTL_INVALID' }));
  });

  it('round-trips through parseDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_DURATION_SECONDS }), (seconds) => {
        expect(parseDuration(formatDuration(seconds))).toBe(seconds);
      }),
    );
  });
});
