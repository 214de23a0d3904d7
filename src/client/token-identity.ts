/**
 * Who a bearer token names, read from its payload WITHOUT verifying the token. This is only a
 * cache key on the engineer's own machine (kube-credential-cache.ts): the token comes from their
 * own login or token command, whoever can plant a token here can read the cache files anyway,
 * and the server verifies the token on every issuance. Nothing may be granted on what this reads.
 */
export interface TokenIdentity {
  /** The "iss" claim, or null when the token has none. */
  issuer: string | null;
  /** The claim the server names its subject by (the server's oidc.subjectClaim, "sub" by default). */
  subject: string;
  /** The groups claim, sorted: the server picks the role, and so the O values, from these. */
  groups: string[];
}

export interface IdentityClaims {
  subject: string;
  groups: string;
}

export const DEFAULT_IDENTITY_CLAIMS: IdentityClaims = { subject: 'sub', groups: 'groups' };

/** undefined when the token is not a JWS compact serialization with a string subject claim. */
export function readTokenIdentity(token: string, claims: IdentityClaims = DEFAULT_IDENTITY_CLAIMS): TokenIdentity | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const record = payload as Record<string, unknown>;
  const subject = Object.hasOwn(record, claims.subject) ? record[claims.subject] : undefined;
  if (typeof subject !== 'string' || subject === '') return undefined;
  const issuer = typeof record['iss'] === 'string' ? record['iss'] : null;
  const groupsClaim = Object.hasOwn(record, claims.groups) ? record[claims.groups] : undefined;
  const groups = Array.isArray(groupsClaim) ? [...new Set(groupsClaim.filter((group): group is string => typeof group === 'string'))].sort() : [];
  return { issuer, subject, groups };
}
