import type { FetchImplementation } from 'jose';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { readBoundedBody } from './bounded-response.ts';

/** A key set holds a handful of keys (about 1.5 KiB each as RSA JWKs); 256 KiB is ample. */
export const MAX_JWKS_BYTES = 256 * 1024;

/**
 * The network half: a plain fetch whose body is read up to MAX_JWKS_BYTES before jose sees it
 * (jose itself reads the whole response, however long). The capped bytes are handed on as a new
 * Response with the original status and headers, so jose's own checks still apply.
 */
export function boundedJwksFetch(maxBytes = MAX_JWKS_BYTES): FetchImplementation {
  return async (url, init) => {
    const response = await fetch(url, init);
    const body = await readBoundedBody(response, maxBytes);
    if (body === undefined) {
      // The IdP answered something jitca will not read: retryable, as any IdP failure (503).
      throw new JitcaError(ErrorCodes.AUTHN_UNAVAILABLE, `the identity provider's key set is larger than ${maxBytes} bytes`, {
        retryable: true,
        details: { reason: 'jwks_too_large', maxBytes },
      });
    }
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

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
export function gatedJwksFetch(cooldownMs: number, network: FetchImplementation = boundedJwksFetch()): FetchImplementation {
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
