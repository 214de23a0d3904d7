import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { createOidcVerifier, type OidcConfig, type OidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { startOidcProvider, type JwksFault, type OidcTestProvider } from '../support/oidc-provider.ts';
import { decodePayload, signedWithIssuerKey } from '../support/oidc-hostile-tokens.ts';
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

/** Retries (bounded) until the token verifies; a failed fetch holds the next one back a cooldown. */
async function verifiesAgain(from: OidcVerifier, token: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      await from.verify(token);
      return;
    } catch (error) {
      if (!isJitcaError(error, ErrorCodes.AUTHN_UNAVAILABLE) || Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

describe('identity provider outage', () => {
  test('JWKS endpoint unreachable (connection refused): retryable ERR_AUTHN_UNAVAILABLE, then recovers', async () => {
    const token = await idp.tokenFor('alice');
    const fresh = verifier({ jwksCooldownMs: 300 });
    await idp.stop();
    const error = await expectAuthnError(fresh.verify(token), ErrorCodes.AUTHN_UNAVAILABLE, token);
    expect(error.retryable).toBe(true);
    await idp.restart();
    await verifiesAgain(fresh, token, 5000);
    await expect(fresh.verify(token)).resolves.toEqual({ subject: 'alice', groups: ['oncall-payments'], via: 'oidc' });
  });

  test.each<[JwksFault, Partial<OidcConfig>]>([
    ['http-503', { jwksCooldownMs: 300 }],
    ['not-json', { jwksCooldownMs: 300 }],
    ['hang', { jwksTimeoutMs: 200, jwksCooldownMs: 300 }],
  ])('JWKS endpoint answering %s: retryable ERR_AUTHN_UNAVAILABLE, then recovers', async (fault, overrides) => {
    const token = await idp.tokenFor('alice');
    const fresh = verifier(overrides);
    idp.setJwksFault(fault);
    const error = await expectAuthnError(fresh.verify(token), ErrorCodes.AUTHN_UNAVAILABLE, token);
    expect(error.retryable).toBe(true);
    idp.setJwksFault('none');
    await verifiesAgain(fresh, token, 5000);
  });

  test('a key set that streams on is refused at 256 KiB (not read until the timeout), then recovers', async () => {
    const token = await idp.tokenFor('alice');
    const fresh = verifier({ jwksCooldownMs: 300 });
    idp.setJwksFault('huge');
    const error = await expectAuthnError(fresh.verify(token), ErrorCodes.AUTHN_UNAVAILABLE, token);
    expect(error.details).toMatchObject({ reason: 'jwks_too_large' });
    idp.setJwksFault('none');
    await verifiesAgain(fresh, token, 5000);
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

describe('a flood while the JWKS endpoint fails costs the IdP at most one fetch per cooldown', () => {
  const cooldown = 400;

  /** 300 verifications in 30 rounds of 10 concurrent; every one must be refused as unavailable. */
  async function flood(from: OidcVerifier, tokens: () => Promise<string>): Promise<{ fetches: number; elapsedMs: number }> {
    const before = idp.jwksRequestCount();
    const started = Date.now();
    for (let round = 0; round < 30; round++) {
      const batch = await Promise.all(Array.from({ length: 10 }, tokens));
      const outcomes = await Promise.allSettled(batch.map((token) => from.verify(token)));
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        expect(isJitcaError((outcome as PromiseRejectedResult).reason, ErrorCodes.AUTHN_UNAVAILABLE)).toBe(true);
      }
      await sleep(5);
    }
    return { fetches: idp.jwksRequestCount() - before, elapsedMs: Date.now() - started };
  }

  test.each<JwksFault>(['http-503', 'not-json'])('no key set yet, endpoint answering %s: valid and unknown-kid tokens', async (fault) => {
    const token = await idp.tokenFor('alice');
    const payload = decodePayload(token);
    const [issuerKey] = idp.signingKeys();
    const fresh = verifier({ jwksCooldownMs: cooldown });
    idp.setJwksFault(fault);
    let next = 0;
    const { fetches, elapsedMs } = await flood(fresh, async () => (next++ % 2 === 0 ? token : signedWithIssuerKey(payload, issuerKey!, { kid: randomUUID() })));
    expect(fetches).toBeGreaterThanOrEqual(1);
    expect(fetches).toBeLessThanOrEqual(1 + Math.floor(elapsedMs / cooldown));
  });

  test('a cached key set and a flood of unknown kids: bounded fetches, cached keys keep verifying', async () => {
    const token = await idp.tokenFor('alice');
    const payload = decodePayload(token);
    const [issuerKey] = idp.signingKeys();
    const cached = verifier({ jwksCooldownMs: cooldown });
    await expect(cached.verify(token)).resolves.toMatchObject({ subject: 'alice' });
    idp.setJwksFault('http-503');
    await sleep(cooldown + 50); // past the cooldown: jose would refetch for every unknown kid
    const { fetches, elapsedMs } = await flood(cached, () => signedWithIssuerKey(payload, issuerKey!, { kid: randomUUID() }));
    expect(fetches).toBeGreaterThanOrEqual(1);
    expect(fetches).toBeLessThanOrEqual(1 + Math.floor(elapsedMs / cooldown));
    await expect(cached.verify(token)).resolves.toMatchObject({ subject: 'alice' });
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
    // 2.5 s of cache: the rotation (an RSA key generation) must fit inside it on a loaded machine.
    const cached = verifier({ jwksCacheMaxAgeMs: 2500, jwksCooldownMs: 100 });
    await expect(cached.verify(old)).resolves.toMatchObject({ subject: 'alice' });
    await idp.rotateKeys({ retire: true });
    await expect(cached.verify(old)).resolves.toMatchObject({ subject: 'alice' });
    await sleep(2600);
    const error = await expectAuthnError(cached.verify(old), ErrorCodes.AUTHN_SIGNATURE, old);
    expect(error.details).toMatchObject({ reason: 'ERR_JWKS_NO_MATCHING_KEY' });
    await expect(cached.verify(await idp.tokenFor('alice'))).resolves.toMatchObject({ subject: 'alice' });
  });
});
