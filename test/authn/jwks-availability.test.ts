import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { createOidcVerifier, type OidcConfig, type OidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { startOidcProvider, type JwksFault, type OidcTestProvider } from '../support/oidc-provider.ts';
import { expectAuthnError } from './authn-assertions.ts';

const API = 'urn:jitca:api';
let idp: OidcTestProvider;

beforeEach(async () => {
  idp = await startOidcProvider({ audience: API, accounts: { alice: { groups: ['oncall-payments'] } } });
});

afterEach(async () => {
  await idp.close();
});

function verifier(overrides: Partial<OidcConfig> = {}): OidcVerifier {
  return createOidcVerifier({ issuer: idp.issuer, audience: API, jwksUri: idp.jwksUri, ...overrides });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('identity provider outage', () => {
  test('JWKS endpoint unreachable (connection refused): retryable ERR_AUTHN_UNAVAILABLE, then recovers', async () => {
    const token = await idp.tokenFor('alice');
    const fresh = verifier();
    await idp.stop();
    const error = await expectAuthnError(fresh.verify(token), ErrorCodes.AUTHN_UNAVAILABLE, token);
    expect(error.retryable).toBe(true);
    await idp.restart();
    // a failed fetch starts no cooldown: the next request fetches again
    await expect(fresh.verify(token)).resolves.toEqual({ subject: 'alice', groups: ['oncall-payments'], via: 'oidc' });
  });

  test.each<[JwksFault, Partial<OidcConfig>]>([
    ['http-503', {}],
    ['not-json', {}],
    ['hang', { jwksTimeoutMs: 200 }],
  ])('JWKS endpoint answering %s: retryable ERR_AUTHN_UNAVAILABLE, then recovers', async (fault, overrides) => {
    const token = await idp.tokenFor('alice');
    const fresh = verifier(overrides);
    idp.setJwksFault(fault);
    const error = await expectAuthnError(fresh.verify(token), ErrorCodes.AUTHN_UNAVAILABLE, token);
    expect(error.retryable).toBe(true);
    idp.setJwksFault('none');
    await expect(fresh.verify(token)).resolves.toMatchObject({ subject: 'alice' });
  });

  test('a cached key set keeps verifying through an outage until jwksCacheMaxAgeMs runs out', async () => {
    const token = await idp.tokenFor('alice');
    const cached = verifier({ jwksCacheMaxAgeMs: 600, jwksCooldownMs: 100 });
    await expect(cached.verify(token)).resolves.toMatchObject({ subject: 'alice' });
    idp.setJwksFault('http-503');
    await expect(cached.verify(token)).resolves.toMatchObject({ subject: 'alice' });
    await sleep(700);
    await expectAuthnError(cached.verify(token), ErrorCodes.AUTHN_UNAVAILABLE, token);
  });
});

describe('key rotation', () => {
  test('with default settings a token from a freshly rotated key fails at first and verifies within the 5 s cooldown', async () => {
    const defaults = verifier();
    await expect(defaults.verify(await idp.tokenFor('alice'))).resolves.toMatchObject({ subject: 'alice' });
    const fetchedAt = Date.now();
    const { kid } = await idp.rotateKeys();
    const token = await idp.tokenFor('alice');
    expect(decodeProtectedHeader(token).kid).toBe(kid);

    // within the cooldown jose does not refetch for an unknown kid
    await expectAuthnError(defaults.verify(token), ErrorCodes.AUTHN_SIGNATURE, token);
    let verifiedAfterMs: number | undefined;
    while (Date.now() - fetchedAt < 7000) {
      await sleep(100);
      try {
        await defaults.verify(token);
        verifiedAfterMs = Date.now() - fetchedAt;
        break;
      } catch (error) {
        if (!isJitcaError(error, ErrorCodes.AUTHN_SIGNATURE)) throw error;
      }
    }
    expect(verifiedAfterMs).toBeDefined();
    expect(verifiedAfterMs!).toBeGreaterThanOrEqual(5000);
    expect(verifiedAfterMs!).toBeLessThan(6000);
  });

  test('the previous key keeps verifying while the issuer still publishes it', async () => {
    const before = await idp.tokenFor('alice');
    await idp.rotateKeys();
    const fresh = verifier();
    await expect(fresh.verify(before)).resolves.toMatchObject({ subject: 'alice' });
    await expect(fresh.verify(await idp.tokenFor('alice'))).resolves.toMatchObject({ subject: 'alice' });
  });

  test('a retired key stops verifying once the cached key set expires (jwksCacheMaxAgeMs)', async () => {
    const old = await idp.tokenFor('alice');
    const cached = verifier({ jwksCacheMaxAgeMs: 800, jwksCooldownMs: 100 });
    await expect(cached.verify(old)).resolves.toMatchObject({ subject: 'alice' });
    await idp.rotateKeys({ retire: true });
    await expect(cached.verify(old)).resolves.toMatchObject({ subject: 'alice' });
    await sleep(900);
    const error = await expectAuthnError(cached.verify(old), ErrorCodes.AUTHN_SIGNATURE, old);
    expect(error.details).toMatchObject({ reason: 'ERR_JWKS_NO_MATCHING_KEY' });
    await expect(cached.verify(await idp.tokenFor('alice'))).resolves.toMatchObject({ subject: 'alice' });
  });
});
