import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { ClientConfig } from './client-config.ts';
import { requestJson } from './http-json.ts';
import { terminalSafe } from './terminal-text.ts';
import { BEARER_TOKEN, MAX_TOKEN_LIFETIME_S, REFRESH_TOKEN } from './token-refresh.ts';

export interface DeviceLoginResult {
  accessToken: string;
  expiresIn: number;
  /** When the provider issues one (the config's scope asks for offline_access): kept 0600 to renew the access token. */
  refreshToken?: string;
}

/** RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default." */
const DEFAULT_INTERVAL_S = 5;
/** RFC 8628 §3.2 makes expires_in REQUIRED; 600 s when it is missing, at most an hour when absurd. */
const DEFAULT_CODE_LIFETIME_S = 600;
const MAX_CODE_LIFETIME_S = 3600;
/** RFC 8628 §6.1 user codes are short and typed by hand: printable ASCII only, then. */
const USER_CODE = /^[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?$/;

/**
 * OAuth 2.0 Device Authorization Grant (RFC 8628) against the configured OpenID provider: the
 * engineer opens the verification URL in any browser; the helper polls the token endpoint at the
 * interval the provider asks for (slow_down adds 5 s, §3.5), bounded by the code's lifetime.
 * What the provider says is checked before use: the URL and code are printed to the engineer's
 * terminal, the interval drives the polling rate, and the token goes into an HTTP header and the
 * cache (ERR_SERVER_REFUSED when one of them is unusable).
 */
export async function deviceLogin(
  config: ClientConfig,
  prompt: (verificationUri: string, userCode: string) => void,
  options: { maxWaitMs?: number } = {},
): Promise<DeviceLoginResult> {
  const oidc = config.oidc;
  if (oidc === undefined) throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'client config has no "oidc" section for jitca login');
  const discovery = await requestJson(`${oidc.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  const deviceEndpoint = discovery.body['device_authorization_endpoint'];
  const tokenEndpoint = discovery.body['token_endpoint'];
  if (typeof deviceEndpoint !== 'string' || typeof tokenEndpoint !== 'string') {
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${oidc.issuer} does not offer the device authorization grant`);
  }
  const start = await requestJson(deviceEndpoint, {
    form: { client_id: oidc.clientId, scope: oidc.scope ?? 'openid', resource: oidc.audience },
  });
  const deviceCode = start.body['device_code'];
  const userCode = start.body['user_code'];
  if (start.status !== 200 || typeof deviceCode !== 'string' || typeof userCode !== 'string') {
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, `device authorization refused (${start.status} ${terminalSafe(String(start.body['error'] ?? ''), 100)})`);
  }
  if (!USER_CODE.test(userCode)) throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${oidc.issuer} sent a user code that is not short printable text`);
  prompt(verificationUrl(start.body['verification_uri_complete'] ?? start.body['verification_uri'], oidc.issuer), userCode);
  let intervalMs = positiveSeconds(start.body['interval'], DEFAULT_INTERVAL_S, 1) * 1000;
  const lifetimeMs = Math.min(positiveSeconds(start.body['expires_in'], DEFAULT_CODE_LIFETIME_S, 1), MAX_CODE_LIFETIME_S) * 1000;
  const deadline = Date.now() + Math.min(lifetimeMs, options.maxWaitMs ?? Infinity);
  while (Date.now() < deadline) {
    // Never past the deadline: setTimeout turns a delay beyond 2^31-1 ms into 1 ms.
    await sleep(Math.min(intervalMs, deadline - Date.now()));
    const polled = await requestJson(tokenEndpoint, {
      form: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode, client_id: oidc.clientId },
    });
    const accessToken = polled.body['access_token'];
    if (polled.status === 200 && typeof accessToken === 'string') {
      if (!BEARER_TOKEN.test(accessToken)) throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${oidc.issuer} issued an access token that cannot be sent as a Bearer token`);
      const refreshToken = polled.body['refresh_token'];
      return {
        accessToken,
        expiresIn: positiveSeconds(polled.body['expires_in'], 300, 1, MAX_TOKEN_LIFETIME_S),
        // One the cache could not hold or send back is dropped: the engineer logs in again later instead.
        ...(typeof refreshToken === 'string' && REFRESH_TOKEN.test(refreshToken) ? { refreshToken } : {}),
      };
    }
    const error = polled.body['error'];
    if (error === 'authorization_pending') continue;
    if (error === 'slow_down') {
      intervalMs += 5000;
      continue;
    }
    throw new JitcaError(ErrorCodes.LOGIN_REQUIRED, `login failed: ${terminalSafe(String(error ?? polled.status), 100)}`);
  }
  throw new JitcaError(ErrorCodes.LOGIN_REQUIRED, 'login timed out before the code was approved');
}

/**
 * A number of seconds from the provider (some send "900" as a string): the default when missing or
 * not a finite number >= min, at most max.
 */
function positiveSeconds(value: unknown, fallback: number, min: number, max = Infinity): number {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  return Number.isFinite(seconds) && seconds >= min ? Math.min(seconds, max) : fallback;
}

/** Printed for the engineer to open: an http(s) URL, shown in its serialized (percent-encoded) form. */
function verificationUrl(value: unknown, issuer: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${issuer} sent no usable verification URL (an http or https URL is required)`);
  }
  return url.href;
}
