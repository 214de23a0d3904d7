import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { createOidcVerifier, discoverOidcVerifier, type OidcConfig, type OidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { startOidcProvider, CLI_CLIENT_ID, type OidcTestProvider } from '../support/oidc-provider.ts';
import {
  decodePayload,
  hmacWithPublicKey,
  publicJwk,
  signedWithIssuerKey,
  signedWithUnknownKey,
  unsecuredToken,
  withTamperedPayload,
} from '../support/oidc-hostile-tokens.ts';
import { expectAuthnError, expectAuthnErrorSync } from './authn-assertions.ts';

const API = 'urn:jitca:api';
const manyGroups = (count: number): string[] => Array.from({ length: count }, (_, i) => `team-${String(i).padStart(4, '0')}`);

let idp: OidcTestProvider;
let otherIssuerSameKeys: OidcTestProvider;
let otherIssuerOwnKeys: OidcTestProvider;

beforeAll(async () => {
  idp = await startOidcProvider({
    audience: API,
    accounts: {
      alice: { groups: ['oncall-payments'] },
      bob: { groups: ['sre-leads'] },
      carol: { groups: ['sre-leads'] },
      dave: { groups: [] },
      'string-groups': { groups: ['sre-leads'], accessTokenClaims: { groups: 'sre-leads' } },
      'numeric-sub': { groups: [], accessTokenClaims: { sub: 12345 } },
      'system-group': { groups: ['sre-leads', 'system:masters'] },
      'System:admin': { groups: [] },
      'control-group': { groups: ['ops\nadmin'] },
      // Look-alikes for a human reading an approval or an audit record: a right-to-left override
      // shows "alice\u202Enimda" as "alicenimda" reversed; a zero-width space hides a second name.
      'bidi-sub': { groups: [], accessTokenClaims: { sub: 'alice\u202Enimda' } },
      'zero-width-group': { groups: ['sre\u200B-leads'] },
      'lone-surrogate-sub': { groups: [], accessTokenClaims: { sub: 'alice\uD800' } },
      'number-in-groups': { groups: [], accessTokenClaims: { groups: ['ok', 7] } },
      'too-many-groups': { groups: manyGroups(300) },
      'huge-token': { groups: manyGroups(700) },
      'future-nbf': { groups: [], accessTokenClaims: { nbf: 4102444800 } },
    },
  });
  // Multi-tenant IdPs sign several issuers with one key set; only `iss` tells them apart.
  otherIssuerSameKeys = await startOidcProvider({ audience: API, accounts: { alice: { groups: ['sre-leads'] } }, signingKeys: idp.signingKeys() });
  otherIssuerOwnKeys = await startOidcProvider({ audience: API, accounts: { alice: { groups: ['sre-leads'] } } });
});

afterAll(async () => {
  await Promise.all([idp?.close(), otherIssuerSameKeys?.close(), otherIssuerOwnKeys?.close()]);
});

function verifierFor(provider: OidcTestProvider, overrides: Partial<OidcConfig> = {}, clock?: ReturnType<typeof fixedClock>): OidcVerifier {
  return createOidcVerifier({ issuer: provider.issuer, audience: API, jwksUri: provider.jwksUri, ...overrides }, clock === undefined ? {} : { clock });
}

describe('tokens from the real provider', () => {
  test('device-flow access tokens verify into the engineer identity with their groups', async () => {
    const verifier = verifierFor(idp);
    await expect(verifier.verify(await idp.tokenFor('alice'))).resolves.toEqual({ subject: 'alice', groups: ['oncall-payments'], via: 'oidc' });
    await expect(verifier.verify(await idp.tokenFor('bob'))).resolves.toEqual({ subject: 'bob', groups: ['sre-leads'], via: 'oidc' });
    await expect(verifier.verify(await idp.tokenFor('carol'))).resolves.toEqual({ subject: 'carol', groups: ['sre-leads'], via: 'oidc' });
  });

  test('device flow: no token while the code is pending, none after the engineer denies it', async () => {
    const pending = await idp.deviceFlow.start();
    await expect(idp.deviceFlow.poll(pending.device_code)).resolves.toMatchObject({ status: 400, body: { error: 'authorization_pending' } });
    await idp.deviceFlow.approve(pending.user_code, 'carol');
    const approved = await idp.deviceFlow.poll(pending.device_code);
    await expect(verifierFor(idp).verify(approved.body.access_token!)).resolves.toEqual({ subject: 'carol', groups: ['sre-leads'], via: 'oidc' });

    const denied = await idp.deviceFlow.start();
    await idp.deviceFlow.deny(denied.user_code);
    await expect(idp.deviceFlow.poll(denied.device_code)).resolves.toMatchObject({ status: 400, body: { error: 'access_denied' } });
  });

  test('an account without groups is an identity with no groups', async () => {
    await expect(verifierFor(idp).verify(await idp.tokenFor('dave'))).resolves.toEqual({ subject: 'dave', groups: [], via: 'oidc' });
  });

  test('ID tokens verify when the CLI client id is an accepted audience', async () => {
    const idToken = await idp.idTokenFor('bob');
    await expectAuthnError(verifierFor(idp).verify(idToken), ErrorCodes.AUTHN_AUDIENCE, idToken);
    const verifier = verifierFor(idp, { audience: [API, CLI_CLIENT_ID] });
    await expect(verifier.verify(idToken)).resolves.toEqual({ subject: 'bob', groups: ['sre-leads'], via: 'oidc' });
  });

  test('with typ "at+jwt" required, access tokens pass and ID tokens are refused', async () => {
    const verifier = verifierFor(idp, { audience: [API, CLI_CLIENT_ID], typ: 'at+jwt' });
    await expect(verifier.verify(await idp.tokenFor('alice'))).resolves.toMatchObject({ subject: 'alice' });
    const idToken = await idp.idTokenFor('alice');
    await expectAuthnError(verifier.verify(idToken), ErrorCodes.AUTHN_CLAIMS, idToken);
  });

  test('a custom subject and groups claim are read when configured', async () => {
    const token = await idp.tokenFor('alice');
    // client_id is a string claim every token from this provider carries
    const verifier = verifierFor(idp, { subjectClaim: 'client_id', groupsClaim: 'roles' });
    await expect(verifier.verify(token)).resolves.toEqual({ subject: CLI_CLIENT_ID, groups: [], via: 'oidc' });
  });
});

describe('hostile tokens get a 401-class code and are never echoed', () => {
  test('alg none, in any spelling', async () => {
    const payload = decodePayload(await idp.tokenFor('alice'));
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const token = unsecuredToken({ ...payload, sub: 'alice', groups: ['sre-leads'] }, alg);
      const error = await expectAuthnError(verifierFor(idp).verify(token), ErrorCodes.AUTHN_SIGNATURE, token);
      expect(error.details).toMatchObject({ reason: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    }
  });

  test('HS256 signed with the issuer\'s public key bytes', async () => {
    const payload = decodePayload(await idp.tokenFor('alice'));
    const [signingKey] = idp.signingKeys();
    const token = hmacWithPublicKey({ ...payload, groups: ['sre-leads'] }, publicJwk(signingKey!));
    const error = await expectAuthnError(verifierFor(idp).verify(token), ErrorCodes.AUTHN_SIGNATURE, token);
    expect(error.details).toMatchObject({ reason: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  });

  test('expired, and valid up to the clock skew past exp', async () => {
    const token = await idp.tokenFor('alice', { expiresInSeconds: 60 });
    const exp = decodePayload(token).exp as number;
    await expect(verifierFor(idp, {}, fixedClock((exp + 25) * 1000)).verify(token)).resolves.toMatchObject({ subject: 'alice' });
    await expectAuthnError(verifierFor(idp, {}, fixedClock((exp + 31) * 1000)).verify(token), ErrorCodes.AUTHN_EXPIRED, token);
  });

  test('issued in the future beyond the skew (iat), and nbf in the future', async () => {
    const token = await idp.tokenFor('alice');
    const iat = decodePayload(token).iat as number;
    await expect(verifierFor(idp, {}, fixedClock((iat - 25) * 1000)).verify(token)).resolves.toMatchObject({ subject: 'alice' });
    await expectAuthnError(verifierFor(idp, {}, fixedClock((iat - 120) * 1000)).verify(token), ErrorCodes.AUTHN_NOT_YET_VALID, token);
    const nbfToken = await idp.tokenFor('future-nbf');
    await expectAuthnError(verifierFor(idp).verify(nbfToken), ErrorCodes.AUTHN_NOT_YET_VALID, nbfToken);
  });

  test('another issuer: with shared keys the issuer check refuses it, with its own keys the signature does', async () => {
    const sameKeys = await otherIssuerSameKeys.tokenFor('alice');
    await expectAuthnError(verifierFor(idp).verify(sameKeys), ErrorCodes.AUTHN_ISSUER, sameKeys);
    const ownKeys = await otherIssuerOwnKeys.tokenFor('alice');
    await expectAuthnError(verifierFor(idp).verify(ownKeys), ErrorCodes.AUTHN_SIGNATURE, ownKeys);
  });

  test('a token for another audience', async () => {
    const token = await idp.tokenFor('alice', { audience: 'urn:payments:api' });
    await expectAuthnError(verifierFor(idp).verify(token), ErrorCodes.AUTHN_AUDIENCE, token);
  });

  test('unknown kid, and a known kid over a key the issuer does not hold', async () => {
    const payload = decodePayload(await idp.tokenFor('alice'));
    const unknown = await signedWithUnknownKey(payload);
    const unknownError = await expectAuthnError(verifierFor(idp).verify(unknown), ErrorCodes.AUTHN_SIGNATURE, unknown);
    expect(unknownError.details).toMatchObject({ reason: 'ERR_JWKS_NO_MATCHING_KEY' });
    const [signingKey] = idp.signingKeys();
    const reusedKid = await signedWithUnknownKey(payload, signingKey!.kid);
    const reusedError = await expectAuthnError(verifierFor(idp).verify(reusedKid), ErrorCodes.AUTHN_SIGNATURE, reusedKid);
    expect(reusedError.details).toMatchObject({ reason: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  test('tampered payload: added group, changed subject', async () => {
    const token = await idp.tokenFor('alice');
    const moreGroups = withTamperedPayload(token, (p) => ({ ...p, groups: ['oncall-payments', 'sre-leads'] }));
    await expectAuthnError(verifierFor(idp).verify(moreGroups), ErrorCodes.AUTHN_SIGNATURE, moreGroups);
    const otherSubject = withTamperedPayload(token, (p) => ({ ...p, sub: 'bob' }));
    await expectAuthnError(verifierFor(idp).verify(otherSubject), ErrorCodes.AUTHN_SIGNATURE, otherSubject);
  });

  test('an oversize token is refused before parsing; a smaller limit applies when configured', async () => {
    const huge = await idp.tokenFor('huge-token');
    expect(huge.length).toBeGreaterThan(8 * 1024);
    const error = await expectAuthnError(verifierFor(idp).verify(huge), ErrorCodes.AUTHN_MALFORMED, huge);
    expect(error.details).toMatchObject({ maxTokenBytes: 8192 });
    const normal = await idp.tokenFor('alice');
    await expectAuthnError(verifierFor(idp, { maxTokenBytes: 512 }).verify(normal), ErrorCodes.AUTHN_MALFORMED, normal);
  });

  test('groups given as a string are refused, not split or wrapped', async () => {
    const token = await idp.tokenFor('string-groups');
    expect(decodePayload(token).groups).toBe('sre-leads');
    const error = await expectAuthnError(verifierFor(idp).verify(token), ErrorCodes.AUTHN_CLAIMS, token);
    expect(error.details).toMatchObject({ reason: 'groups_type' });
  });

  test('non-string group members, control characters in a group, more groups than allowed', async () => {
    for (const account of ['number-in-groups', 'control-group', 'too-many-groups']) {
      const token = await idp.tokenFor(account);
      await expectAuthnError(verifierFor(idp).verify(token), ErrorCodes.AUTHN_CLAIMS, token);
    }
    const many = await idp.tokenFor('too-many-groups');
    await expect(verifierFor(idp, { maxGroups: 300 }).verify(many)).resolves.toMatchObject({ subject: 'too-many-groups' });
  });

  test('invisible formatting characters or a lone surrogate in the subject or a group', async () => {
    for (const account of ['bidi-sub', 'zero-width-group', 'lone-surrogate-sub']) {
      const token = await idp.tokenFor(account);
      await expectAuthnError(verifierFor(idp).verify(token), ErrorCodes.AUTHN_CLAIMS, token);
    }
  });

  test('a numeric sub', async () => {
    const token = await idp.tokenFor('numeric-sub');
    expect(decodePayload(token).sub).toBe(12345);
    await expectAuthnError(verifierFor(idp).verify(token), ErrorCodes.AUTHN_CLAIMS, token);
  });

  test('a system: group, or a system: subject in any case, refuses the whole token', async () => {
    const group = await idp.tokenFor('system-group');
    await expectAuthnError(verifierFor(idp).verify(group), ErrorCodes.AUTHN_CLAIMS, group);
    const subject = await idp.tokenFor('System:admin');
    await expectAuthnError(verifierFor(idp).verify(subject), ErrorCodes.AUTHN_CLAIMS, subject);
  });

  test('a lifetime of a century, and of just over the configured cap', async () => {
    const century = await idp.tokenFor('alice', { expiresInSeconds: 100 * 365 * 24 * 3600 });
    const error = await expectAuthnError(verifierFor(idp).verify(century), ErrorCodes.AUTHN_CLAIMS, century);
    expect(error.details).toMatchObject({ reason: 'lifetime', maxTokenLifetimeSeconds: 86400 });
    const twoHours = await idp.tokenFor('alice', { expiresInSeconds: 7201 });
    await expectAuthnError(verifierFor(idp, { maxTokenLifetimeSeconds: 7200 }).verify(twoHours), ErrorCodes.AUTHN_CLAIMS, twoHours);
    await expect(verifierFor(idp).verify(twoHours)).resolves.toMatchObject({ subject: 'alice' });
  });

  test('a token without iat, or without sub, signed by the issuer\'s own key', async () => {
    // the provider always sets both; a misbehaving issuer might not
    const { sub: _sub, ...withoutSub } = decodePayload(await idp.tokenFor('alice'));
    const { iat: _iat, ...withoutIat } = decodePayload(await idp.tokenFor('alice'));
    for (const payload of [withoutSub, withoutIat]) {
      const token = await signedWithIssuerKey(payload, idp.signingKeys()[0]!);
      await expectAuthnError(verifierFor(idp).verify(token), ErrorCodes.AUTHN_CLAIMS, token);
    }
    const control = await signedWithIssuerKey(decodePayload(await idp.tokenFor('alice')), idp.signingKeys()[0]!);
    await expect(verifierFor(idp).verify(control)).resolves.toMatchObject({ subject: 'alice' });
  });

  test('not a compact JWS: empty, garbage, JWE-shaped, padded, whitespace', async () => {
    await expectAuthnError(verifierFor(idp).verify(''), ErrorCodes.AUTHN_MISSING);
    const token = await idp.tokenFor('alice');
    const [h, p, s] = token.split('.');
    for (const bad of ['not-a-token', `${h}.${p}`, `${h}.${p}.${s}.${s}.${s}`, `${token}=`, ` ${token}`, `${h}.${p}.${s}\n`, `${h}..${s}`]) {
      await expectAuthnError(verifierFor(idp).verify(bad), ErrorCodes.AUTHN_MALFORMED, token);
    }
    // refused before the signature is checked: there is nothing to read
    const notJson = `${h}.${Buffer.from('not json').toString('base64url')}.${s}`;
    await expectAuthnError(verifierFor(idp).verify(notJson), ErrorCodes.AUTHN_MALFORMED, notJson);
  });
});

describe('configuration', () => {
  const base = (): OidcConfig => ({ issuer: 'https://idp.example.com', audience: API, jwksUri: 'https://idp.example.com/keys' });

  test('none, HS* and unknown algorithms are refused at start-up', () => {
    for (const algorithms of [['none'], ['RS256', 'HS256'], ['HS512'], ['RS1'], []]) {
      expectAuthnErrorSync(() => createOidcVerifier({ ...base(), algorithms }), ErrorCodes.CONFIG_INVALID);
    }
    expect(() => createOidcVerifier({ ...base(), algorithms: ['ES256', 'EdDSA'] })).not.toThrow();
  });

  test('jwksUri is required, https unless loopback, and without credentials', () => {
    const { jwksUri: _unused, ...withoutJwks } = base();
    expectAuthnErrorSync(() => createOidcVerifier(withoutJwks), ErrorCodes.CONFIG_INVALID);
    expectAuthnErrorSync(() => createOidcVerifier({ ...base(), jwksUri: 'http://idp.example.com/keys' }), ErrorCodes.CONFIG_INVALID);
    expectAuthnErrorSync(() => createOidcVerifier({ ...base(), jwksUri: 'https://user:pw@idp.example.com/keys' }), ErrorCodes.CONFIG_INVALID);
    expect(() => createOidcVerifier({ ...base(), issuer: 'http://127.0.0.1:1', jwksUri: 'http://127.0.0.1:1/jwks' })).not.toThrow();
  });

  test('empty audience, out-of-range limits and a cooldown longer than the cache are refused', () => {
    for (const bad of [
      { audience: [] },
      { audience: '' },
      { clockSkewSeconds: -1 },
      { maxTokenBytes: 10 },
      { maxGroups: 0 },
      { maxTokenLifetimeSeconds: 0 },
      { jwksCooldownMs: 600_000, jwksCacheMaxAgeMs: 60_000 },
      { subjectClaim: 'a b' },
    ] satisfies Partial<OidcConfig>[]) {
      expectAuthnErrorSync(() => createOidcVerifier({ ...base(), ...bad }), ErrorCodes.CONFIG_INVALID);
    }
  });

  test('discovery reads jwks_uri from the issuer once and verifies with it', async () => {
    const verifier = await discoverOidcVerifier({ issuer: idp.issuer, audience: API });
    await expect(verifier.verify(await idp.tokenFor('bob'))).resolves.toEqual({ subject: 'bob', groups: ['sre-leads'], via: 'oidc' });
  });

  test('discovery refuses a document naming another issuer, and reports an unreachable issuer as retryable', async () => {
    // the provider publishes its issuer without the trailing slash
    await expectAuthnError(discoverOidcVerifier({ issuer: `${idp.issuer}/`, audience: API }), ErrorCodes.CONFIG_INVALID);
    const error = await expectAuthnError(discoverOidcVerifier({ issuer: 'http://127.0.0.1:9', audience: API }, { timeoutMs: 2000 }), ErrorCodes.AUTHN_UNAVAILABLE);
    expect(error.retryable).toBe(true);
  });
});
