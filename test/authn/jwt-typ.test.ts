import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { ErrorCodes } from '../../src/errors.ts';
import { buildConfig } from '../../src/config.ts';
import { createOidcVerifier, type OidcConfig, type OidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';
import { expectAuthnError, expectAuthnErrorSync } from './authn-assertions.ts';

const API = 'urn:jitca:api';
let idp: OidcTestProvider;

const typed = (typ: unknown) => ({ groups: [], accessTokenHeader: { typ } });

beforeAll(async () => {
  idp = await startOidcProvider({
    audience: API,
    accounts: {
      alice: { groups: [] },
      'typ-dpop': typed('dpop+jwt'),
      'typ-logout': typed('logout+jwt'),
      'typ-secevent': typed('application/secevent+jwt'),
      'typ-number': typed(1),
      'typ-empty': typed(''),
      'typ-jwt-lower': typed('jwt'),
      'typ-app-at': typed('application/AT+JWT'),
      'typ-example': typed('example+jwt'),
      // the prefix is "application/", not any type: text/jwt is not JWT
      'typ-text-jwt': typed('text/jwt'),
    },
  });
});

afterAll(async () => {
  await idp?.close();
});

function verifier(overrides: Partial<OidcConfig> = {}): OidcVerifier {
  return createOidcVerifier({ issuer: idp.issuer, audience: API, jwksUri: idp.jwksUri, ...overrides });
}

describe('typ header: only bearer-token types are accepted by default', () => {
  test('at+jwt (the provider\'s), JWT in any case, and the application/ form pass', async () => {
    const plain = await idp.tokenFor('alice');
    expect(decodeProtectedHeader(plain).typ).toBe('at+jwt');
    await expect(verifier().verify(plain)).resolves.toMatchObject({ subject: 'alice' });
    for (const account of ['typ-jwt-lower', 'typ-app-at']) {
      await expect(verifier().verify(await idp.tokenFor(account))).resolves.toMatchObject({ subject: account });
    }
  });

  test.each(['typ-dpop', 'typ-logout', 'typ-secevent', 'typ-number', 'typ-empty', 'typ-text-jwt', 'typ-example'])(
    'signed by the issuer with %s: refused',
    async (account) => {
      const token = await idp.tokenFor(account);
      const error = await expectAuthnError(verifier().verify(token), ErrorCodes.AUTHN_CLAIMS, token);
      expect(error.details).toMatchObject({ reason: 'typ' });
    },
  );

  test('acceptedTypHeaders widens the set; a required typ outside it is a configuration error', async () => {
    const widened = verifier({ acceptedTypHeaders: ['at+jwt', 'application/example+jwt'] });
    await expect(widened.verify(await idp.tokenFor('typ-example'))).resolves.toMatchObject({ subject: 'typ-example' });
    await expectAuthnError(widened.verify(await idp.tokenFor('typ-jwt-lower')), ErrorCodes.AUTHN_CLAIMS);
    expectAuthnErrorSync(() => verifier({ typ: 'at+jwt', acceptedTypHeaders: ['JWT'] }), ErrorCodes.CONFIG_INVALID);
    expectAuthnErrorSync(() => verifier({ acceptedTypHeaders: [] }), ErrorCodes.CONFIG_INVALID);
    expectAuthnErrorSync(() => verifier({ acceptedTypHeaders: ['a b'] }), ErrorCodes.CONFIG_INVALID);
  });

  test('the config file takes acceptedTypHeaders for engineer and gateway tokens', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitca-typ-'));
    try {
      const file = path.join(dir, 'config.json');
      const jwt = { issuer: 'https://idp.example.com', audience: 'urn:a', acceptedTypHeaders: ['JWT'] };
      writeFileSync(file, JSON.stringify({ oidc: jwt, gateway: { token: { ...jwt, audience: 'urn:b', allowedClients: ['gw'] } } }));
      const config = buildConfig({ configFile: file, cwd: dir });
      expect(config.oidc?.acceptedTypHeaders).toEqual(['JWT']);
      expect(config.gateway?.token?.acceptedTypHeaders).toEqual(['JWT']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
