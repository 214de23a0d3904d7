import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppFromConfig } from '../../src/api/api-from-config.ts';
import { buildApp } from '../../src/api/app.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { fixedClock } from '../../src/clock.ts';
import { createApiFixture, API_AUDIENCE, type ApiFixture } from '../support/api-fixture.ts';
import { CONSOLE_CLIENT_ID, consolePolicy, SATURDAY_MORNING, WEDNESDAY_MORNING } from '../support/approval-console.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

/**
 * The approval console's server side: its pages and their headers, and what the request views
 * tell the page about the caller (callerMay) and working hours. The page itself, in a real
 * browser, is test/e2e/console-browser.test.ts.
 */
describe('the approval console (server side)', () => {
  const clock = fixedClock(WEDNESDAY_MORNING);
  let api: ApiFixture;
  let key: TempSshKey;

  beforeAll(async () => {
    api = await createApiFixture({
      issuanceClock: clock,
      policy: consolePolicy,
      console: { clientId: CONSOLE_CLIENT_ID, scope: 'openid groups api', resource: API_AUDIENCE },
    });
    key = createTempSshKey('jitca-console-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
    api.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
  async function ask(operations: string[]): Promise<string> {
    const response = await call(api.tokens.alice, 'POST', '/v1/ssh/certificates', {
      publicKey: key.publicKey,
      scope: { cluster: 'prod', namespace: 'payments' },
      reason: 'INC-42',
      operations,
    });
    expect(response.statusCode, response.body).toBe(202);
    return response.json().requestId as string;
  }
  const seenBy = async (token: string, id: string) => (await call(token, 'GET', `/v1/requests/${id}`)).json();

  it('serves the page, its script, style and settings with a strict CSP, no framing, no referrer and nosniff', async () => {
    const issuerOrigin = new URL(api.oidc.issuer).origin;
    for (const [url, type] of [
      ['/console', 'text/html'],
      ['/console/callback?code=abc&state=def', 'text/html'],
      ['/console/console.js', 'text/javascript'],
      ['/console/console.css', 'text/css'],
      ['/console/settings.json', 'application/json'],
    ] as const) {
      const response = await api.app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type']).toContain(type);
      const csp = String(response.headers['content-security-policy']);
      expect(csp.split('; ')).toEqual(
        expect.arrayContaining([
          "default-src 'self'",
          "script-src 'self'",
          "style-src 'self'",
          `connect-src 'self' ${issuerOrigin}`,
          "frame-ancestors 'none'",
          "require-trusted-types-for 'script'",
        ]),
      );
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['cache-control']).toBe('no-store');
    }
    const page = (await api.app.inject({ method: 'GET', url: '/console' })).body;
    // No inline script or style to allow: the page loads its one script and style sheet by URL.
    expect(page).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(page).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect((await api.app.inject({ method: 'GET', url: '/console/settings.json' })).json()).toEqual({
      issuer: api.oidc.issuer,
      clientId: CONSOLE_CLIENT_ID,
      scope: 'openid groups api',
      redirectPath: '/console/callback',
      resource: API_AUDIENCE,
    });
  });

  it('is served as configured: the console section names the client, oidc the issuer', async () => {
    const configured = await buildAppFromConfig(
      api.ca.runtime,
      {
        ...api.ca.config,
        oidc: { issuer: api.oidc.issuer, audience: API_AUDIENCE, jwksUri: api.oidc.jwksUri },
        console: { clientId: 'console-from-config', scope: 'openid' },
      },
      false,
    );
    try {
      const settings = await configured.inject({ method: 'GET', url: '/console/settings.json' });
      expect(settings.json()).toEqual({ issuer: api.oidc.issuer, clientId: 'console-from-config', scope: 'openid', redirectPath: '/console/callback' });
      expect(settings.headers['content-security-policy']).toContain(`connect-src 'self' ${new URL(api.oidc.issuer).origin}`);
    } finally {
      await configured.close();
    }
  });

  it('serves no console when none is configured', async () => {
    const bare = buildApp(api.ca.runtime, { authenticator: createApiAuthenticator(undefined, undefined), logger: false });
    try {
      const response = await bare.inject({ method: 'GET', url: '/console' });
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe('ERR_ROUTE_NOT_FOUND');
    } finally {
      await bare.close();
    }
  });

  it('tells each caller what they may do with a pending request, by the rules approve and deny then apply', async () => {
    const exec = await ask(['exec']);
    // The requester may withdraw (deny) but not approve; a lead may do both.
    expect((await seenBy(api.tokens.alice, exec)).callerMay).toEqual({ approve: false, deny: true });
    expect((await seenBy(api.tokens.bob, exec)).callerMay).toEqual({ approve: true, deny: true });
    // dave approves the role's port-forward only: he sees the exec request, may deny it, may not approve it,
    // and the API refuses his approval anyway.
    expect((await seenBy(api.tokens.dave, exec)).callerMay).toEqual({ approve: false, deny: true });
    const refused = await call(api.tokens.dave, 'POST', `/v1/requests/${exec}/approve`, { reason: 'looks fine' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'ERR_APPROVAL_REFUSED', details: { rule: 'approval.group' } });
    // mallory approves nothing: the request does not exist for her.
    expect((await call(api.tokens.mallory, 'GET', `/v1/requests/${exec}`)).statusCode).toBe(404);

    // A two-person request: once bob approved, he may not approve again; carol may.
    const debug = await ask(['debug']);
    expect((await call(api.tokens.bob, 'POST', `/v1/requests/${debug}/approve`, { reason: 'first' })).statusCode).toBe(200);
    expect((await seenBy(api.tokens.bob, debug)).callerMay).toEqual({ approve: false, deny: true });
    expect((await seenBy(api.tokens.carol, debug)).callerMay).toEqual({ approve: true, deny: true });
    // The list says the same as the single view.
    const listed = (await call(api.tokens.carol, 'GET', '/v1/requests?state=pending')).json().requests;
    expect(listed.find((request: { requestId: string }) => request.requestId === debug).callerMay).toEqual({ approve: true, deny: true });
    // A final state offers nothing.
    expect((await call(api.tokens.carol, 'POST', `/v1/requests/${debug}/approve`, { reason: 'second' })).statusCode).toBe(201);
    expect((await seenBy(api.tokens.carol, debug)).callerMay).toBeUndefined();
  });

  it("says whether a request was made inside its role's working hours", async () => {
    const inside = await ask(['exec']);
    expect((await seenBy(api.tokens.bob, inside)).workingHours).toBe('inside');
    clock.advance(SATURDAY_MORNING - WEDNESDAY_MORNING);
    try {
      // Outside the window a view-logs request (automatic inside it) needs a lead.
      const outside = await ask(['view-logs']);
      expect(await seenBy(api.tokens.bob, outside)).toMatchObject({ workingHours: 'outside', required: 1, approverGroups: ['sre-leads'] });
    } finally {
      clock.advance(WEDNESDAY_MORNING - SATURDAY_MORNING);
    }
  });
});
