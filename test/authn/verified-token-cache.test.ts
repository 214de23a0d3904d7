/**
 * The cache of verified tokens (issue 16) against the real OpenID provider: a token verified once
 * is served from memory, but never past its `exp`, never after the key set is fetched again (a
 * retired key ends at that fetch, as it does without the cache), never for a token that differs
 * in a byte, and never beyond its bound.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOidcVerifier, type OidcConfig } from '../../src/authn/oidc-verifier.ts';
import { createVerifiedTokenCache } from '../../src/authn/verified-token-cache.ts';
import { createJwtVerifier } from '../../src/authn/jwt-verifier.ts';
import { fixedClock } from '../../src/clock.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { decodePayload, signedWithIssuerKey } from '../support/oidc-hostile-tokens.ts';
import { startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';
import { expectAuthnError } from './authn-assertions.ts';

const API = 'urn:jitca:api';
let idp: OidcTestProvider;

beforeAll(async () => {
  idp = await startOidcProvider({ audience: API, accounts: { alice: { groups: ['oncall-payments'] } } });
});
afterAll(async () => {
  await idp?.close();
});

const config = (overrides: Partial<OidcConfig> = {}) => ({ issuer: idp.issuer, audience: API, jwksUri: idp.jwksUri, ...overrides });

describe('verified tokens kept in memory', () => {
  it('serves a token verified once from the cache (the same frozen payload), and a token differing in one byte is verified, and refused', async () => {
    const token = await idp.tokenFor('alice');
    const jwt = createJwtVerifier({ ...config(), jwksUri: idp.jwksUri });
    // A verification during which the key set was fetched is not kept (it may have raced the
    // fetch); the key set is in place after this one.
    await jwt.verify(await idp.tokenFor('alice'), ['sub']);
    const first = await jwt.verify(token, ['sub']);
    expect(Object.isFrozen(first)).toBe(false);
    const again = await jwt.verify(token, ['sub']);
    expect(Object.isFrozen(again)).toBe(true);
    expect(again).toEqual(first);
    // Another set of required claims is another entry: what was checked for one caller is not assumed for another.
    expect(Object.isFrozen(await jwt.verify(token, ['sub', 'groups']))).toBe(false);
    const [head, body, signature] = token.split('.') as [string, string, string];
    const flipped = `${head}.${body}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'AB' : 'AA'}`;
    await expectAuthnError(jwt.verify(flipped, ['sub']), ErrorCodes.AUTHN_SIGNATURE, flipped);
  });

  it('never past the token\'s exp: the clock moves on and the cached token is refused as expired', async () => {
    const token = await idp.tokenFor('alice', { expiresInSeconds: 120 });
    // The clock starts at the token's own iat: one read before minting could fall a second short
    // of it (iat is whole seconds) and find the token issued in the future.
    const clock = fixedClock(Number(decodePayload(token)['iat']) * 1000);
    const verifier = createOidcVerifier(config({ clockSkewSeconds: 0 }), { clock });
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'alice' });
    clock.advance(60_000);
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'alice' });
    clock.advance(61_000);
    await expectAuthnError(verifier.verify(token), ErrorCodes.AUTHN_EXPIRED, token);
  });

  it('a key retired by the issuer ends with the next fetch of its key set, not later: the cached token is verified again, and refused', async () => {
    const old = await idp.tokenFor('alice');
    const verifier = createOidcVerifier(config({ jwksCooldownMs: 100 }));
    await expect(verifier.verify(old)).resolves.toMatchObject({ subject: 'alice' });
    await expect(verifier.verify(old)).resolves.toMatchObject({ subject: 'alice' });
    await idp.rotateKeys({ retire: true });
    // A token with a kid the verifier has not seen makes jose fetch the key set again (past the cooldown).
    await new Promise((resolve) => setTimeout(resolve, 150));
    const [newKey] = idp.signingKeys();
    const unknownKid = await signedWithIssuerKey(decodePayload(old), newKey!, { kid: randomUUID() });
    await expectAuthnError(verifier.verify(unknownKid), ErrorCodes.AUTHN_SIGNATURE, unknownKid);
    const error = await expectAuthnError(verifier.verify(old), ErrorCodes.AUTHN_SIGNATURE, old);
    expect(error.details).toMatchObject({ reason: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('is bounded: the oldest entry goes when it is full; 0 keeps nothing', () => {
    const cache = createVerifiedTokenCache(2);
    const payload = { sub: 'a' };
    for (const token of ['t1', 't2', 't3']) cache.set(token, [], payload, Date.now() + 60_000, 0);
    expect(cache.size).toBe(2);
    expect(cache.get('t1', [], Date.now(), 0)).toBeUndefined();
    expect(cache.get('t3', [], Date.now(), 0)).toEqual(payload);
    // Another key set generation serves nothing.
    expect(cache.get('t3', [], Date.now(), 1)).toBeUndefined();
    const none = createVerifiedTokenCache(0);
    none.set('t1', [], payload, Date.now() + 60_000, 0);
    expect([none.size, none.get('t1', [], Date.now(), 0)]).toEqual([0, undefined]);
  });
});
