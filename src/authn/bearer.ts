import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; b64token = 1*( ALPHA / DIGIT / "-" / "." /
 * "_" / "~" / "+" / "/" ) *"=". jitca is stricter than 1*SP: exactly one space, nothing before or
 * after, so there is one spelling to log, compare and rate-limit. The scheme name is matched
 * case-insensitively as RFC 9110 §11.1 requires of auth-schemes.
 */
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

/** Extracts the token from an Authorization header value; never echoes the header in errors. */
export function bearerToken(authorizationHeader: string | undefined): string {
  if (authorizationHeader === undefined || authorizationHeader.length === 0) {
    throw new JitcaError(ErrorCodes.AUTHN_MISSING, 'no Authorization header; send "Authorization: Bearer <token>"');
  }
  const match = BEARER.exec(authorizationHeader);
  if (match === null || match[1] === undefined) {
    throw new JitcaError(ErrorCodes.AUTHN_MALFORMED, 'the Authorization header must be exactly "Bearer <token>" with one space and an RFC 6750 token');
  }
  return match[1];
}
