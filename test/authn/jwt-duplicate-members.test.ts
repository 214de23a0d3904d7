import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { createGatewayAuthenticator, resolveGatewayIdentity, type GatewayAuthenticator } from '../../src/authn/gateway-identity.ts';
import { precheckCompactJwt } from '../../src/authn/jwt-precheck.ts';
import { createOidcVerifier, type OidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { GATEWAY_CLIENT_ID, startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';
import { decodePayload, signedTextWithIssuerKey } from '../support/oidc-hostile-tokens.ts';
import { expectAuthnError, expectAuthnErrorSync } from './authn-assertions.ts';

const API = 'urn:jitca:api';
const GATEWAY = 'urn:jitca:gateway';

let idp: OidcTestProvider;
let engineers: OidcVerifier;
let gateway: GatewayAuthenticator;

beforeAll(async () => {
  idp = await startOidcProvider({ audience: API, accounts: { alice: { groups: ['oncall-payments'] } } });
  engineers = createOidcVerifier({ issuer: idp.issuer, audience: API, jwksUri: idp.jwksUri });
  gateway = createGatewayAuthenticator({
    token: { issuer: idp.issuer, audience: GATEWAY, jwksUri: idp.jwksUri, allowedClients: [GATEWAY_CLIENT_ID] },
    engineerAudience: API,
  });
});

afterAll(async () => {
  await idp?.close();
});

/** The issuer's real header and claims as JSON text, `extra` spliced in before the closing brace. */
async function issuerSigned(token: string, extra: { header?: string; payload?: string }): Promise<string> {
  const key = idp.signingKeys()[0]!;
  const header = JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: key.kid });
  const payload = JSON.stringify(decodePayload(token));
  const splice = (json: string, members: string | undefined): string => (members === undefined ? json : `${json.slice(0, -1)},${members}}`);
  return signedTextWithIssuerKey(splice(header, extra.header), splice(payload, extra.payload), key);
}

describe('a member named twice in a signed token is refused before any claim is read', () => {
  test('the same text without the duplicate verifies (the signing helper is sound)', async () => {
    const token = await issuerSigned(await idp.tokenFor('alice'), {});
    await expect(engineers.verify(token)).resolves.toEqual({ subject: 'alice', groups: ['oncall-payments'], via: 'oidc' });
    const service = await issuerSigned(await idp.serviceToken(GATEWAY_CLIENT_ID, { audience: GATEWAY }), {});
    await expect(resolveGatewayIdentity({ kind: 'token', token: service }, gateway)).resolves.toEqual({ service: GATEWAY_CLIENT_ID });
  });

  test.each([
    ['sub twice (the last would be certified)', { payload: '"sub":"root"' }, 'payload'],
    ['groups twice', { payload: '"groups":["sre-leads"]' }, 'payload'],
    ['sub twice, once spelled with an escape', { payload: '"s\\u0075b":"root"' }, 'payload'],
    ['a duplicate inside a nested object', { payload: '"cnf":{"jkt":"a","jkt":"b"}' }, 'payload'],
    ['alg twice in the header', { header: '"alg":"RS256"' }, 'header'],
    ['kid twice in the header', { header: '"kid":"other"' }, 'header'],
  ])('engineer token: %s', async (_name, extra, segment) => {
    const token = await issuerSigned(await idp.tokenFor('alice'), extra);
    const error = await expectAuthnError(engineers.verify(token), ErrorCodes.AUTHN_MALFORMED, token);
    expect(error.details).toMatchObject({ reason: 'duplicate_member', segment });
  });

  test('gateway token: sub or client_id twice', async () => {
    const serviceToken = await idp.serviceToken(GATEWAY_CLIENT_ID, { audience: GATEWAY });
    for (const payload of ['"sub":"jitca-ssh-gateway"', `"client_id":"${GATEWAY_CLIENT_ID}"`]) {
      const token = await issuerSigned(serviceToken, { payload });
      const error = await expectAuthnError(resolveGatewayIdentity({ kind: 'token', token }, gateway), ErrorCodes.AUTHN_MALFORMED, token);
      expect(error.details).toMatchObject({ reason: 'duplicate_member' });
    }
  });
});

describe('precheckCompactJwt (pure)', () => {
  const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64url');
  const limits = { maxTokenBytes: 8192 };
  const header = b64('{"alg":"RS256"}');

  test('a well-formed token passes and its parts are returned', () => {
    expect(precheckCompactJwt(`${header}.${b64('{"sub":"a","n":{"x":1}}')}.c2ln`, limits)).toEqual({
      header: { alg: 'RS256' },
      payload: { sub: 'a', n: { x: 1 } },
    });
  });

  /** The same bytes with the unused low bits of the last character set: a second spelling. */
  const withStrayBits = (segment: string): string => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    expect(segment.length % 4).not.toBe(0);
    return `${segment.slice(0, -1)}${alphabet[alphabet.indexOf(segment.at(-1)!) | 1]}`;
  };

  test('non-canonical base64url, invalid UTF-8, a BOM, JSON that is not an object', () => {
    const payload = b64('{"sub":"a"}');
    for (const bad of [
      `${header}.${payload}A.c2ln`, // a dangling character Buffer would drop
      `${header}.${withStrayBits(payload)}.c2ln`,
      `${header}.${b64(Buffer.from([0x7b, 0xff, 0x7d]))}.c2ln`,
      `${header}.${b64('\uFEFF{"sub":"a"}')}.c2ln`,
      `${header}.${b64('["sub"]')}.c2ln`,
      `${header}.${b64('null')}.c2ln`,
      `${b64('"RS256"')}.${payload}.c2ln`,
      `${header}.${b64('{"sub":"a"')}.c2ln`,
    ]) {
      expectAuthnErrorSync(() => precheckCompactJwt(bad, limits), ErrorCodes.AUTHN_MALFORMED);
    }
  });

  test('duplicates are found at any depth and in arrays of objects', () => {
    for (const payload of ['{"a":1,"a":1}', '{"a":{"b":{"c":{"d":1,"d":2}}}}', '{"a":[{"x":1},{"y":1,"y":2}]}']) {
      const error = expectAuthnErrorSync(() => precheckCompactJwt(`${header}.${b64(payload)}.c2ln`, limits), ErrorCodes.AUTHN_MALFORMED);
      expect(error.details).toMatchObject({ reason: 'duplicate_member', segment: 'payload' });
    }
    // equal names in sibling objects are not duplicates
    expect(() => precheckCompactJwt(`${header}.${b64('{"a":{"x":1},"b":{"x":1}}')}.c2ln`, limits)).not.toThrow();
  });

  test('not a string, empty, oversize, wrong shape', () => {
    expectAuthnErrorSync(() => precheckCompactJwt(undefined, limits), ErrorCodes.AUTHN_MISSING);
    expectAuthnErrorSync(() => precheckCompactJwt('', limits), ErrorCodes.AUTHN_MISSING);
    expectAuthnErrorSync(() => precheckCompactJwt(`${header}.${b64('{}')}.${'A'.repeat(9000)}`, limits), ErrorCodes.AUTHN_MALFORMED);
    for (const bad of ['a.b', 'a.b.c.d.e', `${header}..c2ln`, `${header}.${b64('{}')}.c2ln=`]) {
      expectAuthnErrorSync(() => precheckCompactJwt(bad, limits), ErrorCodes.AUTHN_MALFORMED);
    }
  });
});
