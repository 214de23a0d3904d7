import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';
import { createJwtVerifier, type VerifierOptions } from './jwt-verifier.ts';
import type { JwtVerifierConfig } from './jwt-verifier-config.ts';
import { groupsFromClaim, subjectFromClaim } from './identity-claims.ts';
import { discoverJwksUri } from './oidc-discovery.ts';

/** How engineers' OIDC ID tokens or access tokens are accepted by jitca's API. */
export interface OidcConfig extends Omit<JwtVerifierConfig, 'jwksUri'> {
  /** Required by createOidcVerifier; discoverOidcVerifier reads it from the discovery document. */
  jwksUri?: string;
  /** Claim naming the person; default `sub`. Whatever it names must be stable and never reassigned. */
  subjectClaim?: string;
  /** Claim listing the person's groups; default `groups`. */
  groupsClaim?: string;
  /** Default 256. */
  maxGroups?: number;
}

export interface OidcVerifier {
  /** Verifies a bearer token; throws JitcaError with an ERR_AUTHN_* code. */
  verify(token: string): Promise<Identity>;
}

const CLAIM_NAME = /^[A-Za-z0-9_.:/-]{1,128}$/;

function claimName(name: string, value: string | undefined, fallback: string): string {
  const resolved = value ?? fallback;
  if (!CLAIM_NAME.test(resolved)) throw new JitcaError(ErrorCodes.CONFIG_INVALID, `${name} must be a claim name (letters, digits, _ . : / -)`);
  return resolved;
}

/**
 * Verifies engineers' tokens into `{ subject, groups, via: 'oidc' }`: jose for signature, issuer,
 * audience and times; jitca for size, lifetime and claim types (jwt-verifier.ts,
 * identity-claims.ts).
 */
export function createOidcVerifier(config: OidcConfig, options: VerifierOptions = {}): OidcVerifier {
  if (config.jwksUri === undefined) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'jwksUri is required; use discoverOidcVerifier() to read it from the issuer\'s discovery document');
  }
  const subjectClaim = claimName('subjectClaim', config.subjectClaim, 'sub');
  const groupsClaim = claimName('groupsClaim', config.groupsClaim, 'groups');
  const maxGroups = config.maxGroups ?? 256;
  if (!Number.isSafeInteger(maxGroups) || maxGroups < 1 || maxGroups > 4096) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'maxGroups must be an integer from 1 to 4096');
  }
  const jwt = createJwtVerifier({ ...config, jwksUri: config.jwksUri }, options);

  return {
    async verify(token: string): Promise<Identity> {
      const payload = await jwt.verify(token, [subjectClaim]);
      const subject = subjectFromClaim(payload, subjectClaim);
      const groups = groupsFromClaim(payload, groupsClaim, maxGroups);
      return { subject, groups, via: 'oidc' };
    },
  };
}

/**
 * Reads `jwks_uri` from `${issuer}/.well-known/openid-configuration` once (OIDC Discovery 1.0 §4),
 * then builds the verifier. Call at start-up; a failure is ERR_AUTHN_UNAVAILABLE (retryable) when
 * the issuer is unreachable, ERR_CONFIG_INVALID when its document does not match the configuration.
 */
export async function discoverOidcVerifier(config: OidcConfig, options: VerifierOptions & { timeoutMs?: number } = {}): Promise<OidcVerifier> {
  const jwksUri = config.jwksUri ?? await discoverJwksUri(config.issuer, options.timeoutMs);
  return createOidcVerifier({ ...config, jwksUri }, options);
}
