import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { ClientConfig } from './client-config.ts';
import { requestJson } from './http-json.ts';

export interface DeviceLoginResult {
  accessToken: string;
  expiresIn: number;
}

/**
 * OAuth 2.0 Device Authorization Grant (RFC 8628) against the configured OpenID provider: the
 * engineer opens the verification URL in any browser; the helper polls the token endpoint at the
 * interval the provider asks for (slow_down adds 5 s, §3.5), bounded by the code's lifetime.
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
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, `device authorization refused (${start.status} ${String(start.body['error'] ?? '')})`);
  }
  const verification = String(start.body['verification_uri_complete'] ?? start.body['verification_uri'] ?? '');
  prompt(verification, userCode);
  let intervalMs = Number(start.body['interval'] ?? 5) * 1000;
  const deadline = Date.now() + Math.min(Number(start.body['expires_in'] ?? 600) * 1000, options.maxWaitMs ?? Infinity);
  while (Date.now() < deadline) {
    await sleep(intervalMs);
    const polled = await requestJson(tokenEndpoint, {
      form: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode, client_id: oidc.clientId },
    });
    const accessToken = polled.body['access_token'];
    if (polled.status === 200 && typeof accessToken === 'string') {
      return { accessToken, expiresIn: Number(polled.body['expires_in'] ?? 300) };
    }
    const error = polled.body['error'];
    if (error === 'authorization_pending') continue;
    if (error === 'slow_down') {
      intervalMs += 5000;
      continue;
    }
    throw new JitcaError(ErrorCodes.LOGIN_REQUIRED, `login failed: ${String(error ?? polled.status)}`);
  }
  throw new JitcaError(ErrorCodes.LOGIN_REQUIRED, 'login timed out before the code was approved');
}
