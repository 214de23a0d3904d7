/**
 * The device login's refresh token against the real OpenID provider (oidc-provider): kept 0600 in
 * the cache, used when the access token nears expiry (so a long wait polls with fresh tokens), the
 * rotated one kept, and a refused one dropped so the next command asks for `jitca login`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConfig } from '../../src/client/client-config.ts';
import { deviceLogin } from '../../src/client/device-login.ts';
import { cacheToken, currentToken, renewingToken } from '../../src/client/token-source.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { CLI_CLIENT_ID, startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';

const AUDIENCE = 'urn:jitca:api';
let oidc: OidcTestProvider;
let dir: string;

beforeAll(async () => {
  oidc = await startOidcProvider({ accounts: { alice: { groups: ['oncall-payments'] } }, audience: AUDIENCE });
  dir = mkdtempSync(path.join(tmpdir(), 'jitca-refresh-'));
});
afterAll(async () => {
  await oidc?.close();
  rmSync(dir, { recursive: true, force: true });
});

function configFor(name: string, scope: string): ClientConfig {
  return { server: 'http://127.0.0.1:9', oidc: { issuer: oidc.issuer, clientId: CLI_CLIENT_ID, audience: AUDIENCE, scope }, tokenCache: path.join(dir, name, 'token.json') };
}

/** `jitca login` as it runs: the device flow, approved in the provider's pages by alice. */
async function login(config: ClientConfig) {
  let approval: Promise<void> | undefined;
  const result = await deviceLogin(config, (_uri, code) => void (approval = oidc.deviceFlow.approve(code, 'alice')), { maxWaitMs: 30_000 });
  await approval;
  return result;
}

const cached = (config: ClientConfig) => JSON.parse(readFileSync(config.tokenCache, 'utf8')) as { accessToken: string; refreshToken?: string };

describe('the refresh token from the device login', () => {
  it('renews an access token near expiry without a browser, for the jitca API, and keeps the rotated refresh token', async () => {
    const config = configFor('offline', 'openid offline_access');
    const first = await login(config);
    expect(first.refreshToken).toEqual(expect.any(String));
    // As `jitca login` caches it, with 30 s left: under the minute a token must still have.
    cacheToken(config, first.accessToken, 30, Date.now(), first.refreshToken);
    expect(statSync(config.tokenCache).mode & 0o777).toBe(0o600);

    const renewed = await currentToken(config);
    expect(renewed).not.toBe(first.accessToken);
    expect(decodeJwt(renewed)).toMatchObject({ sub: 'alice', aud: AUDIENCE, groups: ['oncall-payments'] });
    // The provider rotates refresh tokens: the cache holds the new one, and the old one is spent.
    const after = cached(config);
    expect(after.accessToken).toBe(renewed);
    expect(after.refreshToken).toEqual(expect.any(String));
    expect(after.refreshToken).not.toBe(first.refreshToken);
    // Fresh now: used as it is, no second refresh.
    expect(await currentToken(config)).toBe(renewed);
  });

  it('a wait keeps going on its last token when the refresh is refused, and the refused refresh token is dropped', async () => {
    const config = configFor('refused', 'openid offline_access');
    // Any access token will do here (the provider's own, without the device flow's 5 s poll interval).
    const accessToken = await oidc.tokenFor('alice');
    cacheToken(config, accessToken, 30, Date.now(), 'not-a-refresh-token-the-provider-issued');
    const next = renewingToken(config, accessToken);
    expect(await next()).toBe(accessToken);
    expect(existsSync(config.tokenCache)).toBe(false);
    await expect(currentToken(config)).rejects.toMatchObject({ code: ErrorCodes.LOGIN_REQUIRED });
  });

  it('without offline_access in the scope there is no refresh token, and an expiring token asks for a login', async () => {
    const config = configFor('online', 'openid');
    const result = await login(config);
    expect(result.refreshToken).toBeUndefined();
    cacheToken(config, result.accessToken, 30, Date.now(), result.refreshToken);
    expect(cached(config).refreshToken).toBeUndefined();
    await expect(currentToken(config)).rejects.toMatchObject({ code: ErrorCodes.LOGIN_REQUIRED, message: expect.stringContaining('run `jitca login` again') });
  });
});
