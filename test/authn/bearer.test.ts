import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { bearerToken } from '../../src/authn/bearer.ts';
import { expectAuthnErrorSync } from './authn-assertions.ts';

const JWT_LIKE = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';

describe('bearerToken', () => {
  test('returns the token of "Bearer <token>"; the scheme name is case-insensitive', () => {
    expect(bearerToken(`Bearer ${JWT_LIKE}`)).toBe(JWT_LIKE);
    expect(bearerToken(`bearer ${JWT_LIKE}`)).toBe(JWT_LIKE);
    expect(bearerToken('Bearer abc-._~+/xyz==')).toBe('abc-._~+/xyz==');
  });

  test('no header or an empty one is ERR_AUTHN_MISSING', () => {
    expectAuthnErrorSync(() => bearerToken(undefined), ErrorCodes.AUTHN_MISSING);
    expectAuthnErrorSync(() => bearerToken(''), ErrorCodes.AUTHN_MISSING);
  });

  test.each([
    ['other scheme', `Basic ${JWT_LIKE}`],
    ['scheme only', 'Bearer'],
    ['scheme and space only', 'Bearer '],
    ['two spaces', `Bearer  ${JWT_LIKE}`],
    ['tab', `Bearer\t${JWT_LIKE}`],
    ['leading space', ` Bearer ${JWT_LIKE}`],
    ['trailing space', `Bearer ${JWT_LIKE} `],
    ['trailing newline', `Bearer ${JWT_LIKE}\n`],
    ['two tokens', `Bearer ${JWT_LIKE} ${JWT_LIKE}`],
    ['comma-joined credentials', `Bearer ${JWT_LIKE}, Bearer ${JWT_LIKE}`],
    ['padding inside', 'Bearer abc=def'],
    ['only padding', 'Bearer ==='],
    ['quoted', `Bearer "${JWT_LIKE}"`],
    ['non-ASCII', 'Bearer tökén'],
    ['no space', `Bearer${JWT_LIKE}`],
  ])('%s is ERR_AUTHN_MALFORMED and the error does not echo the header', (_name, header) => {
    const error = expectAuthnErrorSync(() => bearerToken(header), ErrorCodes.AUTHN_MALFORMED);
    expect(error.message.includes(JWT_LIKE)).toBe(false);
  });

  test('any header either yields exactly the b64token after "Bearer " or fails with an ERR_AUTHN code', () => {
    const tokenChar = fc.constantFrom(...'aZ09-._~+/= ,"\t\nä'.split(''));
    const header = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', 'Bearer  ', 'Basic ', 'Bearer'), fc.string({ unit: tokenChar, maxLength: 40 }))
        .map(([scheme, token]) => scheme + token),
    );
    fc.assert(
      fc.property(header, (value) => {
        let token: string;
        try {
          token = bearerToken(value);
        } catch (error) {
          expect(isJitcaError(error, ErrorCodes.AUTHN_MALFORMED) || isJitcaError(error, ErrorCodes.AUTHN_MISSING)).toBe(true);
          return;
        }
        expect(token).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/);
        expect(value.toLowerCase()).toBe(`bearer ${token}`.toLowerCase());
      }),
      { numRuns: 2000 },
    );
  });
});
