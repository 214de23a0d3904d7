import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { clientKey, isLoopback } from '../../src/api/auth-failure-limit.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { createOidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { buildConfig } from '../../src/config.ts';
import { API_AUDIENCE, createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const LIMIT = 5;
const FORGED = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyb290In0.c2lnbmF0dXJl';

describe('failed authentication is limited per client address', () => {
  let api: ApiFixture;
  /** The same CA (one SoftHSM2 per process) behind a second app that exempts loopback. */
  let exempt: FastifyInstance;
  let key: TempSshKey;

  beforeAll(async () => {
    api = await createApiFixture({ authFailureLimit: { perMinute: LIMIT } });
    const engineers = createOidcVerifier({ issuer: api.oidc.issuer, audience: API_AUDIENCE, jwksUri: api.oidc.jwksUri });
    exempt = buildApp(api.ca.runtime, {
      authenticator: createApiAuthenticator(engineers, undefined),
      logger: false,
      authFailureLimit: { perMinute: LIMIT, exemptLoopback: true },
    });
    await exempt.ready();
    key = createTempSshKey('jitca-authfail-');
  });
  afterAll(async () => {
    await exempt?.close();
    await api?.close();
    key?.cleanup();
  });

  const post = (on: { app: FastifyInstance }, remoteAddress: string, headers: Record<string, string>) =>
    on.app.inject({ method: 'POST', url: '/v1/ssh/certificates', remoteAddress, headers, payload: { publicKey: key.publicKey, role: 'oncall-payments', reason: 'x' } });

  it('a bounded flood of bad tokens: the first ones are 401, the rest 429 with Retry-After, and only that address is refused', async () => {
    const address = '192.0.2.10';
    const before = api.rowCounts();
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) {
      const headers: Record<string, string> = i % 3 === 0 ? {} : { authorization: `Bearer ${i % 3 === 1 ? FORGED : 'not-a-token'}` };
      const response = await post(api, address, headers);
      statuses.push(response.statusCode);
      if (response.statusCode === 429) {
        expect(response.json()).toMatchObject({ code: 'ERR_RATE_LIMITED', details: { reason: 'authentication_failures', limit: LIMIT } });
        const retryAfter = Number(response.headers['retry-after']);
        expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
      }
    }
    // only LIMIT requests reached the verifier; every later one was refused before its token was read
    expect(statuses.slice(0, LIMIT).every((status) => status === 401)).toBe(true);
    expect(statuses.slice(LIMIT).every((status) => status === 429)).toBe(true);
    // a good token from the refused address waits too; another address is not affected
    expect((await post(api, address, { authorization: `Bearer ${api.tokens.alice}` })).statusCode).toBe(429);
    expect((await post(api, '198.51.100.7', { authorization: `Bearer ${api.tokens.alice}` })).statusCode).toBe(201);
    expect(api.rowCounts().certificates).toBe(before.certificates + 1);
  });

  it('loopback is limited by default (tests and a same-host attacker both come from it)', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await post(api, '127.0.0.1', { authorization: `Bearer ${FORGED}` })).statusCode).toBe(401);
    expect((await post(api, '::ffff:127.0.0.1', { authorization: `Bearer ${FORGED}` })).statusCode).toBe(429);
  });

  it('addresses of one IPv6 /64 share a budget', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await post(api, `2001:db8:1:2::${i + 1}`, {})).statusCode).toBe(401);
    expect((await post(api, '2001:db8:1:2:ffff::9', {})).statusCode).toBe(429);
    expect((await post(api, '2001:db8:1:3::1', {})).statusCode).toBe(401);
  });

  it('a gateway relaying engineers\' bad tokens is not limited by them; its own bad credential is', async () => {
    const gateway = '203.0.113.5';
    for (let i = 0; i < LIMIT + 3; i++) {
      const response = await post(api, gateway, { authorization: `Bearer ${api.gatewayToken}`, 'x-jitca-on-behalf-of': FORGED });
      expect(response.statusCode).toBe(401);
    }
    for (let i = 0; i < LIMIT; i++) await post(api, gateway, { authorization: `Bearer ${FORGED}`, 'x-jitca-on-behalf-of': api.tokens.alice });
    expect((await post(api, gateway, { authorization: `Bearer ${api.gatewayToken}`, 'x-jitca-on-behalf-of': api.tokens.alice })).statusCode).toBe(429);
  });

  it('with exemptLoopback, loopback peers are not limited and others still are', async () => {
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      for (let i = 0; i < LIMIT + 2; i++) expect((await post({ app: exempt }, address, { authorization: `Bearer ${FORGED}` })).statusCode).toBe(401);
    }
    for (let i = 0; i < LIMIT; i++) await post({ app: exempt }, '192.0.2.20', {});
    expect((await post({ app: exempt }, '192.0.2.20', {})).statusCode).toBe(429);
  });

  it('client keys and loopback', () => {
    expect(clientKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey('2001:db8::1')).toBe(clientKey('2001:0db8:0000:0000:ffff::2'));
    expect(clientKey('2001:db8:0:1::1')).not.toBe(clientKey('2001:db8::1'));
    expect(clientKey(undefined)).toBe('unknown');
    expect([isLoopback('127.0.0.1'), isLoopback('127.9.9.9'), isLoopback('::1'), isLoopback('0:0:0:0:0:0:0:1'), isLoopback('::ffff:127.0.0.1')]).toEqual([true, true, true, true, true]);
    expect([isLoopback('192.0.2.1'), isLoopback('::2'), isLoopback('::'), isLoopback(undefined)]).toEqual([false, false, false, false]);
  });

  it('the configuration default limits loopback too', () => {
    const config = buildConfig({ cwd: '/nonexistent' });
    expect(config.server).toMatchObject({ authFailuresPerMinute: 30, authFailuresExemptLoopback: false });
  });
});
