import type { FetchImplementation } from 'jose';
import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * jose's remote key set starts its cooldown only when a fetch succeeds (jose jwks/remote.ts:
 * `jwksTimestamp` is set on success). While the issuer answers errors, garbage or nothing, every
 * request that needs keys (no cached set, a stale one, or an unknown `kid`) fetches again: a flood
 * of tokens becomes a flood on the IdP (issue 12: 279 fetches for 361 requests in 5 s).
 *
 * This gate is jose's fetch implementation (`customFetch`): it lets at most one request reach the
 * network per `cooldownMs`, whatever the outcome of the last one. jose still decides when keys are
 * needed and shares one pending fetch among concurrent callers; a call refused here fails like an
 * unreachable IdP (ERR_AUTHN_UNAVAILABLE, 503) without touching the network, and a token whose
 * key is already cached keeps verifying.
 */
export function gatedJwksFetch(cooldownMs: number, network: FetchImplementation = (url, init) => fetch(url, init)): FetchImplementation {
  let lastStartedAt: number | undefined;
  return async (url, init) => {
    const now = Date.now();
    if (lastStartedAt !== undefined && now < lastStartedAt + cooldownMs) {
      throw new JitcaError(ErrorCodes.AUTHN_UNAVAILABLE, 'the identity provider\'s key set could not be fetched recently; retry later', {
        retryable: true,
        details: { reason: 'jwks_backoff', retryAfterMs: lastStartedAt + cooldownMs - now },
      });
    }
    lastStartedAt = now;
    return network(url, init);
  };
}
