import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppFromConfig } from '../../src/api/api-from-config.ts';
import { API_AUDIENCE, GATEWAY_AUDIENCE, accounts } from '../support/api-fixture.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { GATEWAY_CLIENT_ID, startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

/**
 * Issue 12 item 7: one token whose `aud` names both the engineer and the gateway audience passed as
 * the gateway's credential and as the engineer it speaks for. Built from configuration, as `serve`
 * builds it, so the wiring of each side's audience into the other's verifier is what is tested.
 */
describe('a token naming both the engineer and the gateway audience', () => {
  let ca: CaFixture;
  let oidc: OidcTestProvider;
  let app: FastifyInstance;
  let key: TempSshKey;

  beforeAll(async () => {
    ca = await createCaFixture();
    oidc = await startOidcProvider({ accounts, audience: API_AUDIENCE });
    key = createTempSshKey('jitca-audiences-');
    app = await buildAppFromConfig(ca.runtime, {
      ...ca.config,
      oidc: { issuer: oidc.issuer, audience: API_AUDIENCE, jwksUri: oidc.jwksUri },
      gateway: { token: { issuer: oidc.issuer, audience: GATEWAY_AUDIENCE, jwksUri: oidc.jwksUri, allowedClients: [GATEWAY_CLIENT_ID] } },
    }, false);
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await oidc?.close();
    await ca?.cleanup();
    key?.cleanup();
  });

  const request = (headers: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/v1/ssh/certificates', headers, payload: { publicKey: key.publicKey, role: 'oncall-payments', reason: 'x' } });

  it('the single-audience tokens work (control)', async () => {
    const gateway = await oidc.serviceToken(GATEWAY_CLIENT_ID, { audience: GATEWAY_AUDIENCE });
    const direct = await request({ authorization: `Bearer ${await oidc.tokenFor('alice')}` });
    expect(direct.statusCode).toBe(201);
    const viaGateway = await request({ authorization: `Bearer ${gateway}`, 'x-jitca-on-behalf-of': await oidc.tokenFor('alice') });
    expect(viaGateway.statusCode).toBe(201);
  });

  it('is refused as the gateway credential and as the engineer, with ERR_AUTHN_AUDIENCE', async () => {
    const dual = await oidc.serviceToken(GATEWAY_CLIENT_ID, { audience: GATEWAY_AUDIENCE, extraAudience: API_AUDIENCE });
    const asBoth = await request({ authorization: `Bearer ${dual}`, 'x-jitca-on-behalf-of': dual });
    expect(asBoth.statusCode).toBe(401);
    expect(asBoth.json()).toMatchObject({ code: 'ERR_AUTHN_AUDIENCE', details: { reason: 'foreign_audience' } });
    const asEngineer = await request({ authorization: `Bearer ${dual}` });
    expect(asEngineer.json()).toMatchObject({ code: 'ERR_AUTHN_AUDIENCE', details: { reason: 'foreign_audience' } });
    // the gateway's own credential is good; only the dual token as the engineer is refused
    const gateway = await oidc.serviceToken(GATEWAY_CLIENT_ID, { audience: GATEWAY_AUDIENCE });
    const onBehalf = await request({ authorization: `Bearer ${gateway}`, 'x-jitca-on-behalf-of': dual });
    expect(onBehalf.json()).toMatchObject({ code: 'ERR_AUTHN_AUDIENCE', details: { reason: 'foreign_audience' } });
  });

  it('an engineer token that also names the gateway audience is refused as the engineer', async () => {
    const engineer = await oidc.tokenFor('alice', { extraAudience: GATEWAY_AUDIENCE });
    const response = await request({ authorization: `Bearer ${engineer}` });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'ERR_AUTHN_AUDIENCE', details: { reason: 'foreign_audience' } });
  });
});
