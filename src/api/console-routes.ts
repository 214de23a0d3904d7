import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/** What the page needs to sign in: the issuer and the console's client there (config `console`). */
export interface ConsoleOptions {
  issuer: string;
  clientId: string;
  scope: string;
  /** RFC 8707 resource indicator for issuers that set the access token's audience from it. */
  resource?: string;
}

/** Where the identity provider sends the browser back with the authorization code. */
export const CONSOLE_CALLBACK_PATH = '/console/callback';

const ASSETS = {
  html: readAsset('index.html'),
  script: readAsset('console.js'),
  style: readAsset('console.css'),
};

function readAsset(name: string): string {
  return readFileSync(new URL(`./console/${name}`, import.meta.url), 'utf8');
}

/**
 * The approval console (issue 15): static HTML, one script and one style sheet, no build step. The
 * page signs in at the issuer (authorization code with PKCE, a public client), keeps the access
 * token in memory only and calls the API's own routes with it as a bearer token, so every request
 * it shows and every approval it sends is authorized exactly as the CLI's are: the console adds no
 * route that decides anything.
 *
 * Every answer here carries the console's headers: a Content-Security-Policy that runs only this
 * origin's script, allows no inline script or style, connects only to this origin and the issuer,
 * and (Trusted Types) makes the browser refuse any HTML string written into the page, so request
 * data, which requesters write, can only ever be text; no framing; no Referer (the callback URL
 * holds the authorization code); no MIME sniffing; no caching of the page.
 */
export function consoleRoutes(options: ConsoleOptions): FastifyPluginAsync {
  const headers = consoleHeaders(new URL(options.issuer).origin);
  const settings = JSON.stringify({
    issuer: options.issuer,
    clientId: options.clientId,
    scope: options.scope,
    redirectPath: CONSOLE_CALLBACK_PATH,
    ...(options.resource === undefined ? {} : { resource: options.resource }),
  });
  const send = (reply: FastifyReply, type: string, body: string): FastifyReply => reply.headers(headers).type(type).send(body);
  return async (app) => {
    const hidden = { schema: { hide: true } };
    // The callback is the same page: its script reads the code from the address and exchanges it.
    app.get('/console', hidden, async (_request, reply) => send(reply, 'text/html; charset=utf-8', ASSETS.html));
    app.get(CONSOLE_CALLBACK_PATH, hidden, async (_request, reply) => send(reply, 'text/html; charset=utf-8', ASSETS.html));
    app.get('/console/console.js', hidden, async (_request, reply) => send(reply, 'text/javascript; charset=utf-8', ASSETS.script));
    app.get('/console/console.css', hidden, async (_request, reply) => send(reply, 'text/css; charset=utf-8', ASSETS.style));
    app.get('/console/settings.json', hidden, async (_request, reply) => send(reply, 'application/json; charset=utf-8', settings));
  };
}

export function consoleHeaders(issuerOrigin: string): Record<string, string> {
  const policy = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self' ${issuerOrigin}`,
    "object-src 'none'",
    "base-uri 'none'",
    // The page never submits a form natively (its script sends JSON) and leaves for the issuer by navigation.
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ');
  return {
    'content-security-policy': policy,
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}
