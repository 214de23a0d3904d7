import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';

/**
 * Tokens already verified, so a helper or the gateway sending the same bearer token again is not
 * verified again (an RS256 check and its WebCrypto job are about a tenth of the API's event loop
 * per certificate, issue 16). Kept to what issue 16 allows and SECURITY.md states:
 *   - keyed by a SHA-256 of the whole token (and the claims the caller required), so no token sits
 *     in memory and a token differing in any byte is a different entry;
 *   - an entry ends at the token's `exp`, and at the next fetch of the key set: a key removed or
 *     rotated out takes effect exactly when it does without the cache (the JWKS refetch), not later;
 *   - bounded: the oldest entry goes when it is full; only verified tokens are stored, so a flood
 *     of garbage cannot fill it.
 */
export interface VerifiedTokenCache {
  get(token: string, requiredClaims: readonly string[], nowMs: number, keySetGeneration: number): JWTPayload | undefined;
  set(token: string, requiredClaims: readonly string[], payload: JWTPayload, validUntilMs: number, keySetGeneration: number): void;
  readonly size: number;
}

interface Entry {
  payload: JWTPayload;
  validUntilMs: number;
  keySetGeneration: number;
}

export const VERIFIED_TOKEN_CACHE_ENTRIES = 4096;

export function createVerifiedTokenCache(maxEntries = VERIFIED_TOKEN_CACHE_ENTRIES): VerifiedTokenCache {
  const entries = new Map<string, Entry>();
  const keyOf = (token: string, requiredClaims: readonly string[]): string =>
    createHash('sha256').update(token).update('\u0000').update(requiredClaims.join('\u0000')).digest('base64url');
  return {
    get(token, requiredClaims, nowMs, keySetGeneration) {
      if (maxEntries === 0) return undefined;
      const key = keyOf(token, requiredClaims);
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (nowMs >= entry.validUntilMs || entry.keySetGeneration !== keySetGeneration) {
        entries.delete(key);
        return undefined;
      }
      return entry.payload;
    },
    set(token, requiredClaims, payload, validUntilMs, keySetGeneration) {
      if (maxEntries === 0) return;
      const key = keyOf(token, requiredClaims);
      entries.delete(key);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      // Frozen: every caller shares the one payload, and none may change what the next one reads.
      entries.set(key, { payload: Object.freeze({ ...payload }), validUntilMs, keySetGeneration });
    },
    get size() {
      return entries.size;
    },
  };
}
