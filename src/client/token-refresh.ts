import { ErrorCodes, JitcaError } from '../errors.ts';
import type { ClientConfig } from './client-config.ts';
import { requestJson } from './http-json.ts';
import { terminalSafe } from './terminal-text.ts';

/** RFC 6750 §2.1 b64token: what an Authorization: Bearer header can carry. */
export const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** A refresh token is opaque to the client, but it goes into a form body and a file: printable ASCII, bounded. */
export const REFRESH_TOKEN = /^[\x21-\x7e]{1,4096}$/;
/** The cache's expiry must stay a valid date; a day is longer than any access token jitca accepts. */
export const MAX_TOKEN_LIFETIME_S = 86_400;

export interface RefreshedToken {
  accessToken: string;
  expiresIn: number;
  /** The provider's new refresh token when it rotates them (RFC 9700 §4.14.2); else keep the old one. */
  refreshToken?: string;
}

/**
 * The refresh token grant (RFC 6749 §6) at the configured OpenID provider, for the same client and
 * the jitca API as resource (RFC 8707), so the new access token has the audience the API checks.
 * A refusal (expired, revoked, reused) is ERR_LOGIN_REQUIRED: the engineer logs in again.
 */
export async function refreshAccessToken(config: ClientConfig, refreshToken: string): Promise<RefreshedToken> {
  const oidc = config.oidc;
  if (oidc === undefined) throw new JitcaError(ErrorCodes.LOGIN_REQUIRED, 'no "oidc" in the client config to refresh the token with: run `jitca login`');
  const discovery = await requestJson(`${oidc.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  const tokenEndpoint = discovery.body['token_endpoint'];
  if (typeof tokenEndpoint !== 'string') throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${oidc.issuer} names no token endpoint`);
  const answer = await requestJson(tokenEndpoint, {
    form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: oidc.clientId, resource: oidc.audience },
  });
  const accessToken = answer.body['access_token'];
  if (answer.status !== 200 || typeof accessToken !== 'string') {
    throw new JitcaError(ErrorCodes.LOGIN_REQUIRED, `the token could not be refreshed (${terminalSafe(String(answer.body['error'] ?? answer.status), 100)}): run \`jitca login\` again`);
  }
  if (!BEARER_TOKEN.test(accessToken)) throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${oidc.issuer} issued an access token that cannot be sent as a Bearer token`);
  const rotated = answer.body['refresh_token'];
  return {
    accessToken,
    expiresIn: secondsOf(answer.body['expires_in']),
    ...(typeof rotated === 'string' && REFRESH_TOKEN.test(rotated) ? { refreshToken: rotated } : {}),
  };
}

/** expires_in as the provider sent it (a number, or digits), 300 s when missing, at most a day. */
export function secondsOf(value: unknown): number {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  return Number.isFinite(seconds) && seconds >= 1 ? Math.min(seconds, MAX_TOKEN_LIFETIME_S) : 300;
}
