import http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type InteractionDetails } from 'oidc-provider';

/**
 * A real OpenID provider (panva/oidc-provider 9) on 127.0.0.1 for authn tests. Every token it hands
 * out is minted by the provider through its HTTP endpoints:
 *
 * - engineers: the device authorization grant (RFC 8628). `deviceFlow.approve(userCode, subject)`
 *   plays the engineer's browser: it opens the provider's /device page, submits the user code,
 *   confirms, and is redirected to this file's interaction pages (`/interaction/:uid`), where it
 *   "logs in" as `subject` and consents. These pages stand in for a real login form: the account
 *   named is trusted as is (that is the test-only part). The provider then marks the device code
 *   approved, and polling /token yields a JWT access token for the requested resource indicator
 *   (RFC 8707, `features.resourceIndicators` with `accessTokenFormat: 'jwt'`, RFC 9068 `at+jwt`)
 *   plus an ID token (audience = the CLI client).
 * - services: the client credentials grant, for the SSH gateway's own token.
 *
 * Groups reach tokens through `findAccount` (ID token, scope `groups`) and `extraTokenClaims`
 * (access token). An account's `accessTokenClaims` are written over the finished access-token
 * payload by the provider's JWT customizer (`formats.customizers.jwt`), so hostile claim shapes
 * (groups as a string, numeric sub, far-future nbf) are still signed by the provider itself;
 * `accessTokenHeader` does the same for the protected header (`typ`), and the `extraAudience`
 * token option adds a second `aud` to one token.
 */

export const CLI_CLIENT_ID = 'jitca-cli';
export const GATEWAY_CLIENT_ID = 'jitca-ssh-gateway';

export interface OidcTestAccount {
  groups: string[];
  /** Written over the signed access-token payload by the provider's own JWT customizer. */
  accessTokenClaims?: Record<string, unknown>;
  /** Written over the access token's protected header (`typ`, ...) the same way. */
  accessTokenHeader?: Record<string, unknown>;
}

export interface StartOidcProviderOptions {
  accounts: Record<string, OidcTestAccount>;
  /** Default resource indicator (becomes `aud`), e.g. "urn:jitca:api". Must be an absolute URI. */
  audience: string;
  /** Confidential clients allowed the client credentials grant. Default: [GATEWAY_CLIENT_ID]. */
  serviceClients?: string[];
  /** Private signing JWKs to use instead of fresh ones (a second issuer sharing keys, as multi-tenant IdPs do). */
  signingKeys?: JWK[];
}

export interface TokenOptions {
  /** Resource indicator; default the provider's `audience`. */
  audience?: string;
  /** Access- and ID-token lifetime; default 600. */
  expiresInSeconds?: number;
  /** A second audience the provider adds to the access token's `aud` (one token for two services). */
  extraAudience?: string;
}

export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
}

export interface TokenEndpointResponse {
  status: number;
  body: { access_token?: string; id_token?: string; token_type?: string; expires_in?: number; error?: string; error_description?: string };
}

/** What the JWKS endpoint does; anything but 'none' simulates an identity-provider outage. */
export type JwksFault = 'none' | 'http-503' | 'hang' | 'not-json' | 'huge';

export interface OidcTestProvider {
  issuer: string;
  jwksUri: string;
  audience: string;
  /** A JWT access token for `subject` obtained through the device flow. */
  tokenFor(subject: string, options?: TokenOptions): Promise<string>;
  /** The ID token from the same device flow (aud = CLI_CLIENT_ID). */
  idTokenFor(subject: string, options?: TokenOptions): Promise<string>;
  deviceFlow: {
    start(options?: TokenOptions): Promise<DeviceAuthorization>;
    approve(userCode: string, subject: string): Promise<void>;
    deny(userCode: string): Promise<void>;
    poll(deviceCode: string): Promise<TokenEndpointResponse>;
  };
  /**
   * Registers a public browser client (authorization code with PKCE, no secret), as the approval
   * console is registered at a real issuer. Added while the provider runs, through its storage
   * adapter (where oidc-provider looks up clients it was not built with), because the redirect URI
   * names a server started after the provider.
   */
  registerBrowserClient(clientId: string, redirectUris: string[]): Promise<void>;
  /** A client-credentials JWT access token (sub = client_id = clientId). */
  serviceToken(clientId?: string, options?: { audience?: string; extraAudience?: string }): Promise<string>;
  /** The private signing keys, newest first. For a second issuer sharing them, or hand-built tokens. */
  signingKeys(): JWK[];
  /** Adds a new signing key in front (the provider signs with it from now on); `retire` drops the old ones. */
  rotateKeys(options?: { retire?: boolean }): Promise<{ kid: string }>;
  setJwksFault(fault: JwksFault): void;
  /** How many requests the JWKS endpoint has received (answered or faulted) since start. */
  jwksRequestCount(): number;
  /** Closes the listening socket (connection refused) until restart(); the port is kept. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function html(page: string, body: string): string {
  return `<!DOCTYPE html><html><body data-page="${page}">${body}</body></html>`;
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

type StoredPayload = Record<string, unknown>;

/**
 * oidc-provider's storage adapter contract (grants, sessions, device codes, interactions), kept in
 * one Map per test provider so that the instances rotateKeys() creates share state. Passing an
 * adapter also keeps the provider from warning about its development-only default.
 */
function mapAdapter() {
  const store = new Map<string, { payload: StoredPayload; expiresAt: number }>();
  const grantMembers = new Map<string, Set<string>>();
  const get = (key: string): StoredPayload | undefined => {
    const entry = store.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  return (model: string) => ({
    async upsert(id: string, payload: StoredPayload, expiresIn?: number) {
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      const key = `${model}:${id}`;
      store.set(key, { payload, expiresAt });
      if (model === 'Session' && typeof payload['uid'] === 'string') store.set(`sessionUid:${payload['uid']}`, { payload: { id }, expiresAt });
      if (typeof payload['userCode'] === 'string') store.set(`userCode:${payload['userCode']}`, { payload: { id }, expiresAt });
      if (typeof payload['grantId'] === 'string') {
        const members = grantMembers.get(payload['grantId']) ?? new Set<string>();
        grantMembers.set(payload['grantId'], members.add(key));
      }
    },
    async find(id: string) {
      return get(`${model}:${id}`);
    },
    async findByUid(uid: string) {
      const reference = get(`sessionUid:${uid}`);
      return reference === undefined ? undefined : get(`${model}:${String(reference['id'])}`);
    },
    async findByUserCode(userCode: string) {
      const reference = get(`userCode:${userCode}`);
      return reference === undefined ? undefined : get(`${model}:${String(reference['id'])}`);
    },
    async consume(id: string) {
      const payload = get(`${model}:${id}`);
      if (payload !== undefined) payload['consumed'] = Math.floor(Date.now() / 1000);
    },
    async destroy(id: string) {
      store.delete(`${model}:${id}`);
    },
    async revokeByGrantId(grantId: string) {
      for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
      grantMembers.delete(grantId);
    },
  });
}

/** Loose shapes of the objects oidc-provider passes to configuration functions. */
interface ProviderCtx {
  body: unknown;
  oidc?: { entities?: { DeviceCode?: { params?: Record<string, unknown> } }; body?: Record<string, unknown> };
}
interface ProviderToken {
  accountId?: string;
}

export async function startOidcProvider(options: StartOidcProviderOptions): Promise<OidcTestProvider> {
  const accounts = options.accounts;
  const serviceClients = new Map((options.serviceClients ?? [GATEWAY_CLIENT_ID]).map((id) => [id, randomBytes(24).toString('base64url')]));
  let keys: JWK[] = options.signingKeys !== undefined ? options.signingKeys.map((k) => ({ ...k })) : [await newSigningKey()];
  let jwksFault: JwksFault = 'none';
  let jwksRequests = 0;
  const cookieKeys = [randomBytes(32).toString('base64url')];
  const adapter = mapAdapter();

  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  /**
   * A test-only request parameter: from the device authorization request (an `extraParams` entry),
   * or from the token request's form body (the token endpoint takes no extra parameters).
   */
  function requestParam(ctx: ProviderCtx | undefined, name: string): unknown {
    return ctx?.oidc?.entities?.DeviceCode?.params?.[name] ?? ctx?.oidc?.body?.[name];
  }

  function requestedTtl(ctx: ProviderCtx | undefined): number {
    const value = requestParam(ctx, 'jitca_ttl');
    const seconds = typeof value === 'string' ? Number(value) : Number.NaN;
    return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : 600;
  }

  function buildProvider(signingKeys: JWK[]): Provider {
    const configuration: Record<string, unknown> = {
      adapter,
      clients: [
        {
          client_id: CLI_CLIENT_ID,
          client_name: 'jitca CLI',
          token_endpoint_auth_method: 'none',
          // refresh_token: a device login asking for offline_access gets one (jitca login keeps it).
          grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
          response_types: [],
          redirect_uris: [],
        },
        ...[...serviceClients].map(([clientId, secret]) => ({
          client_id: clientId,
          client_secret: secret,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
        })),
      ],
      jwks: { keys: signingKeys },
      cookies: { keys: cookieKeys },
      scopes: ['openid', 'groups', 'offline_access'],
      claims: { openid: ['sub'], groups: ['groups'] },
      extraParams: ['jitca_ttl', 'jitca_extra_aud'],
      // oidc-provider's own rule, named so it does not warn: a public client's token endpoint may
      // be called from the origins of its redirect URIs (the approval console's page), nothing else.
      clientBasedCORS(_ctx: unknown, origin: string, client: { clientAuthMethod: string; redirectUris: string[] }) {
        return client.clientAuthMethod === 'none' && client.redirectUris.some((uri) => URL.parse(uri)?.origin === origin);
      },
      async findAccount(_ctx: unknown, sub: string) {
        const account = accounts[sub];
        if (account === undefined) return undefined;
        return { accountId: sub, claims: async () => ({ sub, groups: account.groups }) };
      },
      async extraTokenClaims(_ctx: unknown, token: ProviderToken) {
        const account = token.accountId === undefined ? undefined : accounts[token.accountId];
        return account === undefined ? undefined : { groups: account.groups };
      },
      formats: {
        customizers: {
          async jwt(ctx: ProviderCtx, token: ProviderToken, jwt: { payload: Record<string, unknown>; header?: Record<string, unknown> }) {
            const account = token.accountId === undefined ? undefined : accounts[token.accountId];
            if (account?.accessTokenClaims !== undefined) Object.assign(jwt.payload, account.accessTokenClaims);
            if (account?.accessTokenHeader !== undefined) jwt.header = { ...jwt.header, ...account.accessTokenHeader };
            const extraAudience = requestParam(ctx, 'jitca_extra_aud');
            if (typeof extraAudience === 'string') jwt.payload['aud'] = [jwt.payload['aud'], extraAudience].flat();
          },
        },
      },
      ttl: {
        AccessToken: (ctx: ProviderCtx) => requestedTtl(ctx),
        IdToken: (ctx: ProviderCtx) => requestedTtl(ctx),
        ClientCredentials: 600,
        DeviceCode: 600,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
      },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        deviceFlow: {
          enabled: true,
          async userCodeInputSource(ctx: ProviderCtx, form: string, _out: unknown, err: unknown) {
            ctx.body = html(err === undefined ? 'user-code' : 'user-code-error', form);
          },
          async userCodeConfirmSource(ctx: ProviderCtx, form: string) {
            ctx.body = html('confirm', form);
          },
          async successSource(ctx: ProviderCtx) {
            ctx.body = html('success', '');
          },
        },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => options.audience,
          // Issue the access token for the resource the engineer approved, even with `openid`.
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx: unknown, resource: string) => ({
            scope: 'api',
            audience: resource,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
    };
    return new Provider(issuer, configuration);
  }

  let provider = buildProvider(keys);
  let handler = provider.callback();

  /** Test-only login and consent pages: the account named in the form is logged in as is. */
  async function interaction(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const [, , uid, action] = path.split('/');
    const details: InteractionDetails = await provider.interactionDetails(req, res);
    if (uid !== details.uid) throw new Error('interaction uid mismatch');
    if (req.method === 'GET' && action === undefined) {
      const next = details.prompt.name === 'login' ? 'login' : 'confirm';
      res.setHeader('content-type', 'text/html');
      // The fields a browser test fills in; browse() below posts the same names itself.
      const fields = next === 'login' ? '<label>Account <input name="login"></label><button type="submit">Sign in</button>' : '<button type="submit">Continue</button>';
      res.end(html(`prompt-${details.prompt.name}`, `<form method="post" action="/interaction/${uid}/${next}">${fields}</form>`));
      return;
    }
    if (req.method === 'POST' && action === 'login') {
      const login = (await readForm(req)).get('login') ?? '';
      if (accounts[login] === undefined) {
        res.statusCode = 400;
        res.end(html('login-failed', ''));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
      return;
    }
    if (req.method === 'POST' && action === 'confirm') {
      const accountId = details.session?.accountId;
      const clientId = details.params['client_id'];
      if (accountId === undefined || typeof clientId !== 'string') throw new Error('consent without a logged-in account');
      const grant = new provider.Grant({ accountId, clientId });
      const missing = details.prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      if (missing.missingOIDCScope !== undefined) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims !== undefined) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        grant.addResourceScope(resource, scopes.join(' '));
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    res.statusCode = 404;
    res.end();
  }

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    if (path === '/jwks') jwksRequests++;
    if (path === '/jwks' && jwksFault !== 'none') {
      if (jwksFault === 'hang') return; // never answers: the verifier's fetch times out
      if (jwksFault === 'huge') return streamHugeKeySet(res);
      res.statusCode = jwksFault === 'http-503' ? 503 : 200;
      res.setHeader('content-type', 'application/json');
      res.end(jwksFault === 'not-json' ? '{"keys": [' : '{"error":"unavailable"}');
      return;
    }
    if (path.startsWith('/interaction/')) {
      interaction(req, res, path).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(html('interaction-error', String(error instanceof Error ? error.message : error)));
      });
      return;
    }
    handler(req, res);
  });

  /**
   * A key set that never ends (up to 64 MiB, no Content-Length): valid-looking JSON keys, written
   * as fast as the reader takes them, so a reader without a cap would buffer all of it.
   */
  function streamHugeKeySet(res: http.ServerResponse): void {
    res.statusCode = 200;
    res.setHeader('content-type', 'application/json');
    const filler = `{"kty":"oct","kid":"${'x'.repeat(1000)}"},`;
    let written = 0;
    const pump = (): void => {
      while (written < 64 * 1024 * 1024) {
        written += filler.length;
        if (!res.write(filler)) return void res.once('drain', pump);
      }
      res.end('{}]}');
    };
    res.write('{"keys":[');
    res.on('close', () => (written = Number.POSITIVE_INFINITY));
    pump();
  }

  async function form(path: string, fields: Record<string, string>, auth?: string): Promise<TokenEndpointResponse> {
    const response = await fetch(`${issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth === undefined ? {} : { authorization: auth }) },
      body: new URLSearchParams(fields),
    });
    return { status: response.status, body: (await response.json()) as TokenEndpointResponse['body'] };
  }

  async function start(tokenOptions: TokenOptions = {}): Promise<DeviceAuthorization> {
    const fields: Record<string, string> = {
      client_id: CLI_CLIENT_ID,
      scope: 'openid groups api',
      resource: tokenOptions.audience ?? options.audience,
    };
    if (tokenOptions.expiresInSeconds !== undefined) fields['jitca_ttl'] = String(tokenOptions.expiresInSeconds);
    if (tokenOptions.extraAudience !== undefined) fields['jitca_extra_aud'] = tokenOptions.extraAudience;
    const { status, body } = await form('/device/auth', fields);
    if (status !== 200) throw new Error(`device authorization failed: ${status} ${JSON.stringify(body)}`);
    return body as unknown as DeviceAuthorization;
  }

  async function poll(deviceCode: string): Promise<TokenEndpointResponse> {
    return form('/token', {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: deviceCode,
      client_id: CLI_CLIENT_ID,
    });
  }

  async function deviceTokens(subject: string, tokenOptions: TokenOptions = {}): Promise<{ accessToken: string; idToken: string }> {
    const authorization = await start(tokenOptions);
    await browse(issuer, authorization.user_code, { login: subject });
    const { status, body } = await poll(authorization.device_code);
    if (status !== 200 || body.access_token === undefined || body.id_token === undefined) {
      throw new Error(`device code exchange failed: ${status} ${body.error ?? ''}`);
    }
    return { accessToken: body.access_token, idToken: body.id_token };
  }

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    audience: options.audience,
    tokenFor: async (subject, tokenOptions) => (await deviceTokens(subject, tokenOptions)).accessToken,
    idTokenFor: async (subject, tokenOptions) => (await deviceTokens(subject, tokenOptions)).idToken,
    deviceFlow: {
      start,
      approve: (userCode, subject) => browse(issuer, userCode, { login: subject }),
      deny: (userCode) => browse(issuer, userCode, { abort: true }),
      poll,
    },
    async registerBrowserClient(clientId, redirectUris) {
      await adapter('Client').upsert(clientId, {
        client_id: clientId,
        application_type: 'web',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: redirectUris,
      });
    },
    async serviceToken(clientId = GATEWAY_CLIENT_ID, serviceOptions = {}) {
      const secret = serviceClients.get(clientId);
      if (secret === undefined) throw new Error(`no service client ${clientId}`);
      const auth = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
      const fields: Record<string, string> = { grant_type: 'client_credentials', resource: serviceOptions.audience ?? options.audience };
      if (serviceOptions.extraAudience !== undefined) fields['jitca_extra_aud'] = serviceOptions.extraAudience;
      const { status, body } = await form('/token', fields, auth);
      if (status !== 200 || body.access_token === undefined) throw new Error(`client credentials failed: ${status} ${body.error ?? ''}`);
      return body.access_token;
    },
    signingKeys: () => keys.map((k) => ({ ...k })),
    async rotateKeys(rotation = {}) {
      const fresh = await newSigningKey();
      keys = rotation.retire === true ? [fresh] : [fresh, ...keys];
      // oidc-provider reads its key set once; a new instance on the same issuer, port and
      // storage adapter is how the running IdP rotates.
      provider = buildProvider(keys);
      handler = provider.callback();
      return { kid: fresh.kid as string };
    },
    setJwksFault(fault) {
      jwksFault = fault;
    },
    jwksRequestCount: () => jwksRequests,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    async restart() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    async close() {
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * The engineer's browser for the device flow: cookies kept in a jar, redirects followed by hand so
 * every Set-Cookie is seen, hidden form fields (xsrf) read from the provider's pages.
 */
async function browse(issuer: string, userCode: string, decision: { login: string } | { abort: true }): Promise<void> {
  const jar = new Map<string, string>();
  async function request(url: string, fields?: Record<string, string>): Promise<{ url: string; status: number; body: string }> {
    let current = url;
    let init: RequestInit = fields === undefined
      ? { method: 'GET' }
      : { method: 'POST', body: new URLSearchParams(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    for (let hops = 0; hops < 10; hops++) {
      const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
      const response = await fetch(current, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), cookie } });
      for (const line of response.headers.getSetCookie()) {
        const [pair = '', ...attributes] = line.split(';');
        const eq = pair.indexOf('=');
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a));
        if (expired || value === '') jar.delete(name);
        else jar.set(name, value);
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.arrayBuffer();
        current = new URL(location, current).href;
        init = { method: 'GET' };
        continue;
      }
      return { url: current, status: response.status, body: await response.text() };
    }
    throw new Error('too many redirects');
  }
  const hidden = (body: string, name: string): string => {
    const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(body);
    if (match?.[1] === undefined) throw new Error(`no ${name} field on the page`);
    return match[1];
  };
  const page = (body: string): string => /data-page="([^"]+)"/.exec(body)?.[1] ?? 'unknown';

  const entry = await request(`${issuer}/device`);
  const xsrf = hidden(entry.body, 'xsrf');
  const confirm = await request(`${issuer}/device`, { xsrf, user_code: userCode });
  if (page(confirm.body) !== 'confirm') throw new Error(`user code not accepted (${page(confirm.body)})`);
  const confirmXsrf = hidden(confirm.body, 'xsrf');
  if ('abort' in decision) {
    await request(`${issuer}/device`, { xsrf: confirmXsrf, user_code: userCode, abort: 'yes' });
    return;
  }
  let current = await request(`${issuer}/device`, { xsrf: confirmXsrf, user_code: userCode, confirm: 'yes' });
  for (let steps = 0; steps < 5; steps++) {
    const name = page(current.body);
    if (name === 'success') return;
    const action = /action="([^"]+)"/.exec(current.body)?.[1];
    if (name === 'prompt-login' && action !== undefined) {
      current = await request(new URL(action, issuer).href, { login: decision.login });
    } else if (name === 'prompt-consent' && action !== undefined) {
      current = await request(new URL(action, issuer).href, {});
    } else {
      throw new Error(`device approval stopped at page ${name} (HTTP ${current.status})`);
    }
  }
  throw new Error('device approval did not finish');
}
