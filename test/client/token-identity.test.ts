import { describe, expect, it } from 'vitest';
import { readTokenIdentity } from '../../src/client/token-identity.ts';

/** A JWS compact serialization with this payload; the signature is never looked at here. */
function token(payload: unknown): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'ES256', typ: 'JWT' })}.${part(payload)}.c2lnbmF0dXJl`;
}

describe('readTokenIdentity (unverified, a cache key only)', () => {
  it('reads issuer, subject and the groups sorted and without repeats', () => {
    expect(readTokenIdentity(token({ iss: 'https://idp', sub: 'alice', groups: ['sre', 'oncall-payments', 'sre'] }))).toEqual({
      issuer: 'https://idp',
      subject: 'alice',
      groups: ['oncall-payments', 'sre'],
    });
    expect(readTokenIdentity(token({ sub: 'alice' }))).toEqual({ issuer: null, subject: 'alice', groups: [] });
  });

  it('reads the claims the server is configured with', () => {
    const jwt = token({ sub: '00u1x', email: 'alice@example.com', roles: ['b', 'a'] });
    expect(readTokenIdentity(jwt, { subject: 'email', groups: 'roles' })).toEqual({ issuer: null, subject: 'alice@example.com', groups: ['a', 'b'] });
  });

  it.each([
    ['an opaque token', 'opaque-access-token'],
    ['a payload that is not JSON', 'e30.bm90IGpzb24.c2ln'],
    ['a payload that is an array', token(['alice'])],
    ['no subject', token({ iss: 'https://idp' })],
    ['a subject that is not a string', token({ sub: 42 })],
    ['an empty subject', token({ sub: '' })],
  ])('is undefined for %s', (_name, jwt) => {
    expect(readTokenIdentity(jwt)).toBeUndefined();
  });

  it('does not take a subject from the prototype', () => {
    expect(readTokenIdentity(token({ sub: 'alice' }), { subject: 'toString', groups: 'groups' })).toBeUndefined();
  });
});
