import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { systemClock, type Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { authnErrorFromJose, keyResolutionError } from './jose-errors.ts';
import { resolveJwtVerifierConfig, type JwtVerifierConfig, type ResolvedJwtVerifierConfig } from './jwt-verifier-config.ts';

export interface VerifierOptions {
  /** Time for exp/nbf/iat checks (jose's `currentDate`). JWKS cache timing stays on real time. */
  clock?: Clock;
}

export interface JwtVerifier {
  /** Signature, issuer, audience, time and size checks; claims beyond those are the caller's. */
  verify(token: string, requiredClaims?: string[]): Promise<JWTPayload>;
  readonly config: ResolvedJwtVerifierConfig;
}

/**
 * RFC 7515 §7.1 compact serialization: three base64url (RFC 4648 §5, unpadded) segments. A JWE
 * (five segments) or anything with padding, spaces or other characters is refused before parsing.
 * The signature may be empty so that `alg: none` reaches jose's algorithm allowlist and is reported
 * as an algorithm refusal rather than a formatting one.
 */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * One issuer's JWT verifier: jose's jwtVerify over a remote JWKS, plus the checks jose has no
 * option for (SECURITY-NOTES.md "Bearer tokens"): size bound, `iat` not in the future, lifetime cap.
 * Never logs or echoes the token.
 */
export function createJwtVerifier(config: JwtVerifierConfig, options: VerifierOptions = {}): JwtVerifier {
  const resolved = resolveJwtVerifierConfig(config);
  const clock = options.clock ?? systemClock;
  const remote = createRemoteJWKSet(resolved.jwksUri, {
    cacheMaxAge: resolved.jwksCacheMaxAgeMs,
    cooldownDuration: resolved.jwksCooldownMs,
    timeoutDuration: resolved.jwksTimeoutMs,
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
    if (typeof token !== 'string' || token.length === 0) {
      throw new JitcaError(ErrorCodes.AUTHN_MISSING, 'no bearer token was presented');
    }
    if (token.length > resolved.maxTokenBytes) {
      throw new JitcaError(ErrorCodes.AUTHN_MALFORMED, `the token is longer than ${resolved.maxTokenBytes} bytes`, {
        details: { maxTokenBytes: resolved.maxTokenBytes },
      });
    }
    if (!COMPACT_JWS.test(token)) {
      throw new JitcaError(ErrorCodes.AUTHN_MALFORMED, 'the token is not a compact signed JWT (three base64url segments)');
    }
    const nowMs = clock.now();
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
    return payload;
  }

  return { verify, config: resolved };
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
