import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ClientConfig } from '../../src/client/client-config.ts';
import { deviceLogin } from '../../src/client/device-login.ts';
import { ErrorCodes } from '../../src/errors.ts';

/**
 * A hostile OpenID provider on loopback: discovery, device authorization and token endpoints
 * answer whatever the test puts in `device` and `token`.
 */
let server: http.Server;
let issuer: string;
let device: Record<string, unknown>;
let token: Record<string, unknown>;
let tokenStatus: number;
let polls: number;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const reply = (status: number, body: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (request.url === '/.well-known/openid-configuration') {
        return reply(200, { issuer, device_authorization_endpoint: `${issuer}/device`, token_endpoint: `${issuer}/token` });
      }
      if (request.url === '/device') return reply(200, device);
      polls++;
      return reply(tokenStatus, token);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  device = { device_code: 'dc', user_code: 'ABCD-EFGH', verification_uri: `${issuer}/activate`, interval: 1, expires_in: 600 };
  token = { access_token: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln', token_type: 'Bearer', expires_in: 300 };
  tokenStatus = 200;
  polls = 0;
});

function config(): ClientConfig {
  return { server: 'http://127.0.0.1:1', oidc: { issuer, clientId: 'jitca-cli', audience: 'jitca' }, tokenCache: '/nonexistent/token.json' };
}

async function login(maxWaitMs = 60_000): Promise<{ result?: Awaited<ReturnType<typeof deviceLogin>>; printed: string[]; code?: string; message?: string }> {
  const printed: string[] = [];
  try {
    const result = await deviceLogin(config(), (uri, code) => printed.push(uri, code), { maxWaitMs });
    return { result, printed };
  } catch (error) {
    return { printed, code: (error as { code?: string }).code, message: (error as Error).message };
  }
}

describe('deviceLogin against a hostile OpenID provider', () => {
  it('prints a verification URL with terminal escapes only in percent-encoded form', async () => {
    device['verification_uri_complete'] = `${issuer}/activate?code=\u001b]0;pwned\u0007\u001b[2J\u009b31m`;
    const { printed, result } = await login();
    expect(result?.accessToken).toBe(token['access_token']);
    expect(printed[0]).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(printed[0]).toBe(`${issuer}/activate?code=%1B]0;pwned%07%1B[2J%C2%9B31m`);
  });

  it('refuses a verification URL that is not http(s), and a user code with control characters, before printing anything', async () => {
    device['verification_uri'] = 'javascript:alert(1)';
    expect(await login()).toMatchObject({ code: ErrorCodes.SERVER_REFUSED, printed: [] });
    device['verification_uri'] = `${issuer}/activate`;
    device['user_code'] = 'AB\u001b[1A\rCD';
    expect(await login()).toMatchObject({ code: ErrorCodes.SERVER_REFUSED, printed: [] });
    expect(polls).toBe(0);
  });

  it('does not poll in a tight loop when the interval is 0, not a number, or too large for a timer', async () => {
    token = { error: 'authorization_pending' };
    tokenStatus = 400;
    // Each of these would, unchecked, become a 0-1 ms sleep: hundreds of polls in 300 ms.
    for (const interval of [0, 'soon', 1e10]) {
      polls = 0;
      device['interval'] = interval;
      expect(await login(300)).toMatchObject({ code: ErrorCodes.LOGIN_REQUIRED });
      expect(polls).toBeLessThanOrEqual(1);
    }
  });

  it('bounds an absurd token lifetime so the cache entry stays a valid date, and defaults a non-numeric one', async () => {
    token['expires_in'] = 1e300;
    const huge = await login();
    expect(huge.result?.expiresIn).toBe(86_400);
    expect(() => new Date(Date.now() + huge.result!.expiresIn * 1000).toISOString()).not.toThrow();
    token['expires_in'] = 'forever';
    expect((await login()).result?.expiresIn).toBe(300);
  });

  it('refuses an access token that cannot be a Bearer token (header injection)', async () => {
    token['access_token'] = 'abc\r\nX-Injected: 1';
    expect(await login()).toMatchObject({ code: ErrorCodes.SERVER_REFUSED });
  });

  it('shows a provider error with its control characters escaped', async () => {
    token = { error: 'access_denied\u001b[2J' };
    tokenStatus = 400;
    const { code, message } = await login();
    expect(code).toBe(ErrorCodes.LOGIN_REQUIRED);
    expect(message).toBe('login failed: access_denied\\u001b[2J');
  });
});
