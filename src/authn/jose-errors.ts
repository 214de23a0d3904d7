import { ErrorCodes, JitcaError, isJitcaError, type ErrorCode } from '../errors.ts';

/**
 * The one place jose's error classes become jitca codes. jose's errors are matched by their stable
 * `code` (jose util/errors.ts), never by class identity or message.
 *
 * jose's JWTClaimValidationFailed carries the decoded claims set in `payload`; it is never attached
 * as `cause`, so a logged JitcaError cannot leak claims (and the token itself is never in scope).
 */
interface JoseLikeError {
  code: string;
  claim?: unknown;
  reason?: unknown;
}

function isJoseLike(error: unknown): error is JoseLikeError {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string'
    && (error as { code: string }).code.startsWith('ERR_J');
}

function authn(code: ErrorCode, message: string, reason: string, retryable = false, cause?: unknown): JitcaError {
  return new JitcaError(code, message, { retryable, details: { reason }, ...(cause === undefined ? {} : { cause }) });
}

/** Key-resolution failures that are the token's fault; anything else while fetching keys is the issuer's. */
const TOKEN_SIDE_KEY_ERRORS = new Set(['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS', 'ERR_JOSE_NOT_SUPPORTED']);

/**
 * Classifies an error thrown while resolving the verification key. jose throws the raw fetch error
 * (connection refused), JWKSTimeout, a generic JOSEError for a non-200 response or bad JSON, and
 * JWKSInvalid for a malformed set: all mean "the issuer's key set is unavailable", which is
 * retryable (503), not the caller's fault (401).
 * Returns undefined for errors that must reach jose unchanged (JWKSMultipleMatchingKeys is a signal
 * jose itself consumes by iterating the candidates).
 */
export function keyResolutionError(error: unknown): JitcaError | undefined {
  if (isJitcaError(error)) return error; // already classified (jwks-fetch-gate.ts)
  if (isJoseLike(error) && TOKEN_SIDE_KEY_ERRORS.has(error.code)) return undefined;
  return authn(
    ErrorCodes.AUTHN_UNAVAILABLE,
    'the identity provider\'s key set could not be fetched; retry later',
    isJoseLike(error) ? error.code : 'fetch_failed',
    true,
    error,
  );
}

/** Maps anything thrown by jose's jwtVerify (or a JitcaError passed through it) to a JitcaError. */
export function authnErrorFromJose(error: unknown): JitcaError {
  if (isJitcaError(error)) return error;
  if (!isJoseLike(error)) {
    // A TypeError from key import (e.g. an RSA key under 2048 bits): the token cannot be verified.
    return authn(ErrorCodes.AUTHN_SIGNATURE, 'the token\'s signature could not be verified', 'verification_error');
  }
  switch (error.code) {
    case 'ERR_JWT_EXPIRED':
      return authn(ErrorCodes.AUTHN_EXPIRED, 'the token has expired', error.code);
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claimFailure(error);
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return authn(ErrorCodes.AUTHN_SIGNATURE, 'the token\'s signing algorithm is not allowed', error.code);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return authn(ErrorCodes.AUTHN_SIGNATURE, 'the token\'s signature does not verify', error.code);
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return authn(ErrorCodes.AUTHN_SIGNATURE, 'the token is not signed by a key the issuer publishes', error.code);
    case 'ERR_JOSE_NOT_SUPPORTED':
      return authn(ErrorCodes.AUTHN_SIGNATURE, 'the token\'s algorithm or key type is not supported', error.code);
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return authn(ErrorCodes.AUTHN_UNAVAILABLE, 'the identity provider\'s key set could not be fetched; retry later', error.code, true);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWE_INVALID':
      return authn(ErrorCodes.AUTHN_MALFORMED, 'the token is not a well-formed signed JWT', error.code);
    default:
      return authn(ErrorCodes.AUTHN_MALFORMED, 'the token could not be processed', error.code);
  }
}

function claimFailure(error: JoseLikeError): JitcaError {
  const claim = typeof error.claim === 'string' ? error.claim : 'unknown';
  const reason = typeof error.reason === 'string' ? error.reason : 'check_failed';
  if (claim === 'iss') return authn(ErrorCodes.AUTHN_ISSUER, 'the token was issued by an issuer jitca does not trust', 'iss');
  if (claim === 'aud') return authn(ErrorCodes.AUTHN_AUDIENCE, 'the token is not meant for this audience', 'aud');
  if (claim === 'nbf' && reason === 'check_failed') {
    return authn(ErrorCodes.AUTHN_NOT_YET_VALID, 'the token is not valid yet ("nbf" is in the future)', 'nbf');
  }
  if (claim === 'iat' && reason === 'check_failed') {
    return authn(ErrorCodes.AUTHN_NOT_YET_VALID, 'the token was issued in the future ("iat")', 'iat');
  }
  if (claim === 'typ') return authn(ErrorCodes.AUTHN_CLAIMS, 'the token\'s "typ" header is not the accepted token type', 'typ');
  // missing required claim, or exp/nbf/iat that is not a number
  return authn(ErrorCodes.AUTHN_CLAIMS, `the token's "${claim}" claim is ${reason === 'missing' ? 'missing' : 'invalid'}`, `${claim}_${reason}`);
}
