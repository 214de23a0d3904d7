import { createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { systemClock, type Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { authnErrorFromJose, keyResolutionError } from './jose-errors.ts';
import { gatedJwksFetch } from './jwks-fetch-gate.ts';
import { createVerifiedTokenCache } from './verified-token-cache.ts';
import { checkTypHeader, precheckCompactJwt } from './jwt-precheck.ts';
import { resolveJwtVerifierConfig, type JwtVerifierConfig, type ResolvedJwtVerifierConfig } from './jwt-verifier-config.ts';

export interface VerifierOptions {
  /** Time for exp/nbf/iat checks (jose's `currentDate`). JWKS cache timing stays on real time. */
  clock?: Clock;
  /**
   * The audience(s) of jitca's other kind of token (the gateway's for engineer tokens, and the
   * reverse). A token naming one of them is that credential too, and is refused as this one: one
   * token must not be both the gateway's credential and the engineer it speaks for.
   */
  foreignAudiences?: readonly string[];
  /** Verified tokens kept (verified-token-cache.ts); 0 verifies every token every time. */
  verifiedTokenCacheEntries?: number;
}

export interface JwtVerifier {
  /** Signature, issuer, audience, time and size checks; claims beyond those are the caller's. */
  verify(token: string, requiredClaims?: string[]): Promise<JWTPayload>;
  readonly config: ResolvedJwtVerifierConfig;
}

/**
 * One issuer's JWT verifier: jose's jwtVerify over a remote JWKS, plus the checks jose has no
 * option for (SECURITY-NOTES.md "Bearer tokens"): size, shape and duplicate members (jwt-precheck.ts),
 * `iat` not in the future, lifetime cap.
 * Never logs or echoes the token.
 */
export function createJwtVerifier(config: JwtVerifierConfig, options: VerifierOptions = {}): JwtVerifier {
  const resolved = resolveJwtVerifierConfig(config);
  const clock = options.clock ?? systemClock;
  const foreignAudiences = new Set(options.foreignAudiences ?? []);
  const verified = createVerifiedTokenCache(options.verifiedTokenCacheEntries);
  // Every fetch of the key set, whatever its outcome, ends what was verified under the last one;
  // and once the key set is as old as jose lets it get, nothing is served until jose fetches again.
  let keySetGeneration = 0;
  let keySetFetchedAt = Number.NEGATIVE_INFINITY;
  const keySetFresh = (): boolean => Date.now() < keySetFetchedAt + resolved.jwksCacheMaxAgeMs;
  const gate = gatedJwksFetch(resolved.jwksCooldownMs);
  const remote = createRemoteJWKSet(resolved.jwksUri, {
    cacheMaxAge: resolved.jwksCacheMaxAgeMs,
    cooldownDuration: resolved.jwksCooldownMs,
    timeoutDuration: resolved.jwksTimeoutMs,
    // One network fetch per cooldown whatever its outcome; jose alone would refetch on every
    // request after a failure.
    [customFetch]: (url, init) => {
      keySetGeneration += 1;
      // Real time, as jose's cacheMaxAge is; from the start of the fetch, so never later than jose.
      keySetFetchedAt = Date.now();
      return gate(url, init);
    },
  });
  // Errors while fetching keys are classified here, where their origin is still known: a generic
  // JOSEError from the fetch (non-200) must not be mistaken for a malformed token.
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      throw keyResolutionError(error) ?? error;
    }
  };

  async function verify(token: string, requiredClaims: string[] = []): Promise<JWTPayload> {
    const nowMs = clock.now();
    const known = keySetFresh() ? verified.get(token, requiredClaims, nowMs, keySetGeneration) : undefined;
    if (known !== undefined) return known;
    // Before jose: nothing is fetched, verified or read for a token that has two readings.
    const { header } = precheckCompactJwt(token, resolved);
    checkTypHeader(header, resolved.acceptedTypHeaders);
    const generation = keySetGeneration;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        issuer: resolved.issuer,
        audience: resolved.audience,
        algorithms: resolved.algorithms,
        clockTolerance: resolved.clockSkewSeconds,
        currentDate: new Date(nowMs),
        // jose accepts tokens without these unless named (SECURITY-NOTES.md).
        requiredClaims: [...new Set(['exp', 'iat', ...requiredClaims])],
        ...(resolved.typ === undefined ? {} : { typ: resolved.typ }),
      }));
    } catch (error) {
      throw authnErrorFromJose(error);
    }
    checkTimes(payload, nowMs / 1000, resolved);
    checkNotForeign(payload, foreignAudiences);
    // Kept under the key set it was verified with: a fetch during this verification (an unknown
    // kid) already moved the generation, and the entry then never serves.
    verified.set(token, requiredClaims, payload, (payload.exp as number) * 1000, generation);
    return payload;
  }

  return { verify, config: resolved };
}

/** jose accepts a token naming any one accepted audience, whatever else `aud` names. */
function checkNotForeign(payload: JWTPayload, foreign: ReadonlySet<string>): void {
  const audiences = payload.aud === undefined ? [] : typeof payload.aud === 'string' ? [payload.aud] : payload.aud;
  if (audiences.some((audience) => foreign.has(audience))) {
    throw new JitcaError(ErrorCodes.AUTHN_AUDIENCE, 'the token is also meant for the other kind of jitca caller (engineer or gateway); one token cannot be both', {
      details: { reason: 'foreign_audience' },
    });
  }
}

/** jose checks `iat` only with maxTokenAge and never caps `exp - iat`; jitca does both. */
function checkTimes(payload: JWTPayload, nowSeconds: number, config: ResolvedJwtVerifierConfig): void {
  // requiredClaims made both present and jose checked they are numbers.
  const iat = payload.iat as number;
  const exp = payload.exp as number;
  if (iat > nowSeconds + config.clockSkewSeconds) {
    throw new JitcaError(ErrorCodes.AUTHN_NOT_YET_VALID, 'the token was issued in the future ("iat")', {
      details: { reason: 'iat', clockSkewSeconds: config.clockSkewSeconds },
    });
  }
  if (exp - iat > config.maxTokenLifetimeSeconds) {
    throw new JitcaError(
      ErrorCodes.AUTHN_CLAIMS,
      `the token's lifetime (exp - iat) exceeds the ${config.maxTokenLifetimeSeconds} s jitca accepts`,
      { details: { reason: 'lifetime', maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds } },
    );
  }
}
