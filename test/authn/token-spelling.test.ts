import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJitcaError } from '../../src/errors.ts';
import { jwtSeeds, type JwtSeeds } from '../fuzz/jwt-targets.ts';

/** Found by bench/fuzz.ts: a signed token had a second spelling (in its signature segment) that verified. */
describe('a signed token has one spelling', () => {
  let seeds: JwtSeeds;
  beforeAll(async () => {
    seeds = await jwtSeeds();
  });
  afterAll(async () => {
    await seeds?.close();
  });

  const codeOf = async (token: string): Promise<string | undefined> =>
    seeds.verifier.verify(token).then(
      () => undefined,
      (error: unknown) => (isJitcaError(error) ? error.code : String(error)),
    );

  it('refuses a segment whose last character carries non-zero spare bits (ERR_AUTHN_MALFORMED); the canonical token verifies', async () => {
    const token = seeds.tokens[0] ?? '';
    expect(await codeOf(token)).toBeUndefined();
    const segments = token.split('.');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    /** The same bytes spelled another way: a spare bit set in the last character, or one character more (4n + 1 decodes to nothing). */
    const respell = (segment: string): string =>
      segment.length % 4 === 0 ? `${segment}A` : `${segment.slice(0, -1)}${alphabet[alphabet.indexOf(segment.slice(-1)) | 1]}`;
    for (const index of [0, 1, 2]) {
      const variant = segments.map((segment, at) => (at === index ? respell(segment) : segment));
      expect(Buffer.from(variant[index] ?? '', 'base64url')).toEqual(Buffer.from(segments[index] ?? '', 'base64url'));
      expect(await codeOf(variant.join('.')), `segment ${index}`).toBe('ERR_AUTHN_MALFORMED');
    }
  });
});
