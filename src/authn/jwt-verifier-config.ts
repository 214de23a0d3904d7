import { ErrorCodes, JitcaError } from '../errors.ts';
import { normalizeTyp } from './jwt-precheck.ts';

/**
 * Settings shared by every JWT jitca accepts (engineer tokens and gateway service tokens): who
 * signs them, for whom, and the bounds jitca enforces where jose has no option (SECURITY-NOTES.md,
 * "Bearer tokens").
 */
export interface JwtVerifierConfig {
  /** Expected `iss`, compared exactly (OIDC Core §3.1.3.7 step 2). */
  issuer: string;
  /** Accepted `aud` value(s); a token must name at least one (RFC 7519 §4.1.3). */
  audience: string | string[];
  /**
   * Where the issuer publishes its keys. Required here: guessing `${issuer}/jwks` is wrong for many
   * IdPs; use discoverOidcVerifier() to read it from the discovery document once at start-up.
   */
  jwksUri: string;
  /** Asymmetric JWS algorithms accepted. `none` and HS* are refused at start-up. */
  algorithms?: string[];
  /** Required `typ` header, e.g. "at+jwt" to accept RFC 9068 access tokens only. Unset: may be absent. */
  typ?: string;
  /**
   * `typ` header values accepted when a token carries one (compared case-insensitively, with or
   * without "application/"); default JWT and at+jwt. An IdP that types its tokens otherwise is
   * added here rather than the check switched off.
   */
  acceptedTypHeaders?: string[];
  /** Tolerance for `exp`, `nbf` and a future `iat`. */
  clockSkewSeconds?: number;
  /** `exp - iat` beyond this is refused: a leaked long-lived token must not be a standing key. */
  maxTokenLifetimeSeconds?: number;
  /** Tokens longer than this are refused before any parsing. */
  maxTokenBytes?: number;
  /**
   * How long a fetched key set is trusted. A key the issuer retired stops verifying at most this
   * long after the retirement was published; when it runs out and the issuer is unreachable,
   * verification fails with ERR_AUTHN_UNAVAILABLE.
   */
  jwksCacheMaxAgeMs?: number;
  /**
   * Minimum time between two fetches of the key set, whatever the first one's outcome
   * (jwks-fetch-gate.ts). Small enough that a token from a freshly rotated issuer key verifies
   * within seconds; large enough that a flood of tokens with random `kid`s, or any traffic while the
   * issuer fails, costs the issuer at most one request per period.
   */
  jwksCooldownMs?: number;
  /** Timeout for one key-set fetch. */
  jwksTimeoutMs?: number;
}

export interface ResolvedJwtVerifierConfig {
  issuer: string;
  audience: string[];
  jwksUri: URL;
  algorithms: string[];
  typ: string | undefined;
  /** Normalized (jwt-precheck.ts normalizeTyp). */
  acceptedTypHeaders: ReadonlySet<string>;
  clockSkewSeconds: number;
  maxTokenLifetimeSeconds: number;
  maxTokenBytes: number;
  jwksCacheMaxAgeMs: number;
  jwksCooldownMs: number;
  jwksTimeoutMs: number;
}

/** The asymmetric JWS algorithms jose verifies (RFC 7518 §3.1, RFC 8037, RFC 9864). */
const ASYMMETRIC_ALGORITHMS = new Set([
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA', 'Ed25519',
]);

export const JWT_VERIFIER_DEFAULTS = {
  algorithms: ['RS256', 'ES256', 'EdDSA', 'PS256'],
  /** RFC 7519 §5.1 and RFC 9068 §2.1. */
  acceptedTypHeaders: ['JWT', 'at+jwt'],
  clockSkewSeconds: 30,
  maxTokenLifetimeSeconds: 24 * 60 * 60,
  maxTokenBytes: 8 * 1024,
  /** 5 min: a retired issuer key stops verifying within minutes (jose's default is 10 min). */
  jwksCacheMaxAgeMs: 5 * 60 * 1000,
  /** 5 s: a rotated issuer key verifies within seconds (jose's default is 30 s). */
  jwksCooldownMs: 5 * 1000,
  jwksTimeoutMs: 5 * 1000,
} as const;

function invalid(message: string): JitcaError {
  return new JitcaError(ErrorCodes.CONFIG_INVALID, message);
}

function integerInRange(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < min || resolved > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max}`);
  }
  return resolved;
}

/**
 * https only, except on loopback: the key set decides whom jitca believes, so it must not be
 * fetched over a network an attacker can write to. Loopback http serves tests and local sidecars.
 */
export function trustedFetchUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${name} must be an absolute URL`);
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalid(`${name} must use https (http is allowed only on loopback)`);
  }
  if (url.username !== '' || url.password !== '' || url.hash !== '') {
    throw invalid(`${name} must not contain credentials or a fragment`);
  }
  return url;
}

export function resolveJwtVerifierConfig(config: JwtVerifierConfig): ResolvedJwtVerifierConfig {
  if (typeof config.issuer !== 'string' || config.issuer.length === 0) throw invalid('issuer must be a non-empty string');
  trustedFetchUrl('issuer', config.issuer);
  const audience = typeof config.audience === 'string' ? [config.audience] : config.audience;
  if (!Array.isArray(audience) || audience.length === 0 || audience.some((a) => typeof a !== 'string' || a.length === 0)) {
    throw invalid('audience must be a non-empty string or a non-empty list of non-empty strings');
  }
  const algorithms = config.algorithms ?? [...JWT_VERIFIER_DEFAULTS.algorithms];
  if (algorithms.length === 0) throw invalid('algorithms must name at least one algorithm');
  for (const alg of algorithms) {
    // `none` and HMAC would let anyone who knows the issuer's public key (or no key) mint tokens.
    if (!ASYMMETRIC_ALGORITHMS.has(alg)) {
      throw invalid(`algorithm ${JSON.stringify(alg)} is not allowed; allowed: ${[...ASYMMETRIC_ALGORITHMS].join(', ')}`);
    }
  }
  if (config.typ !== undefined && (typeof config.typ !== 'string' || config.typ.length === 0)) {
    throw invalid('typ must be a non-empty string when set');
  }
  const acceptedTypHeaders = config.acceptedTypHeaders ?? [...JWT_VERIFIER_DEFAULTS.acceptedTypHeaders];
  if (!Array.isArray(acceptedTypHeaders) || acceptedTypHeaders.length === 0
    || acceptedTypHeaders.some((value) => typeof value !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(value))) {
    throw invalid('acceptedTypHeaders must list at least one media type of printable characters');
  }
  const acceptedTyp = new Set(acceptedTypHeaders.map(normalizeTyp));
  if (config.typ !== undefined && !acceptedTyp.has(normalizeTyp(config.typ))) {
    throw invalid('typ must be one of acceptedTypHeaders, or no token could pass');
  }
  const jwksCacheMaxAgeMs = integerInRange('jwksCacheMaxAgeMs', config.jwksCacheMaxAgeMs, JWT_VERIFIER_DEFAULTS.jwksCacheMaxAgeMs, 0, 24 * 60 * 60 * 1000);
  const jwksCooldownMs = integerInRange('jwksCooldownMs', config.jwksCooldownMs, JWT_VERIFIER_DEFAULTS.jwksCooldownMs, 0, 60 * 60 * 1000);
  if (jwksCooldownMs > jwksCacheMaxAgeMs) throw invalid('jwksCooldownMs must not exceed jwksCacheMaxAgeMs');
  return {
    issuer: config.issuer,
    audience: [...audience],
    jwksUri: trustedFetchUrl('jwksUri', config.jwksUri),
    algorithms: [...algorithms],
    typ: config.typ,
    acceptedTypHeaders: acceptedTyp,
    clockSkewSeconds: integerInRange('clockSkewSeconds', config.clockSkewSeconds, JWT_VERIFIER_DEFAULTS.clockSkewSeconds, 0, 300),
    maxTokenLifetimeSeconds: integerInRange('maxTokenLifetimeSeconds', config.maxTokenLifetimeSeconds, JWT_VERIFIER_DEFAULTS.maxTokenLifetimeSeconds, 60, 30 * 24 * 60 * 60),
    maxTokenBytes: integerInRange('maxTokenBytes', config.maxTokenBytes, JWT_VERIFIER_DEFAULTS.maxTokenBytes, 512, 64 * 1024),
    jwksCacheMaxAgeMs,
    jwksCooldownMs,
    jwksTimeoutMs: integerInRange('jwksTimeoutMs', config.jwksTimeoutMs, JWT_VERIFIER_DEFAULTS.jwksTimeoutMs, 1, 60 * 1000),
  };
}
