import { randomUUID } from 'node:crypto';
import { jwtVerify } from 'jose';
import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Signer } from '../keys/signer.ts';
import type { Identity } from '../policy/types.ts';
import type { LocalUser } from '../store/types.ts';
import { authnErrorFromJose } from './jose-errors.ts';
import { precheckCompactJwt } from './jwt-precheck.ts';

/**
 * jitca's own session tokens for local identities: a compact JWS (EdDSA) signed by a key that
 * stays in the key manager (the slot below, created by `jitca init`), so no session secret exists
 * in a file or in memory, and replicas sharing the HSM token share the key. Verification needs
 * only the public key: no HSM operation per request.
 *
 * The token carries the user's name, their groups (for the helper's display and cache key only)
 * and the fingerprint of the key that logged in. At every request the user is read again: a user
 * removed, or registered again with another key, has no working session from then on, and the
 * groups policy sees are the stored ones, not the token's.
 */

export const LOCAL_ISSUER = 'jitca-local';
/** Only jitca's API accepts these; an OIDC verifier never does (different issuer and key). */
export const LOCAL_AUDIENCE = 'jitca-api';
/** RFC 8725 §3.11: an explicit type, so this token is never mistaken for another kind. */
export const LOCAL_TOKEN_TYPE = 'jitca-session+jwt';
/** The key manager slot of the session signing key. */
export const SESSION_KEY_SLOT = { caName: 'jitca-session', generation: 1 } as const;

const MAX_TOKEN_BYTES = 4096;
const CLOCK_SKEW_SECONDS = 30;

export interface LocalSession {
  token: string;
  expiresAt: Date;
  expiresInSeconds: number;
}

/** Signs a session for a user who just proved their key (local-login.ts). */
export async function issueLocalSession(signer: Signer, user: LocalUser, ttlSeconds: number, clock: Clock): Promise<LocalSession> {
  if (signer.algorithm.kind !== 'ed25519') {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `the session key ${signer.keyId} must be Ed25519`);
  }
  const iat = Math.floor(clock.now() / 1000);
  const header = { alg: 'EdDSA', typ: LOCAL_TOKEN_TYPE, kid: signer.keyId };
  const payload = { iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, sub: user.name, groups: user.groups, kfp: user.fingerprint, iat, exp: iat + ttlSeconds, jti: randomUUID() };
  const signingInput = `${segment(header)}.${segment(payload)}`;
  const signature = await signer.sign(Buffer.from(signingInput, 'ascii'));
  return {
    token: `${signingInput}.${Buffer.from(signature).toString('base64url')}`,
    expiresAt: new Date((iat + ttlSeconds) * 1000),
    expiresInSeconds: ttlSeconds,
  };
}

function segment(value: object): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export interface LocalSessionVerifier {
  /** True when the token claims to be a jitca session (unverified): which verifier should judge it. */
  claims(token: string): boolean;
  verify(token: string): Promise<Identity>;
}

export interface LocalSessionVerifierOptions {
  signer: Pick<Signer, 'publicKey'>;
  findUser: (name: string) => Promise<LocalUser | undefined>;
  clock: Clock;
}

export function createLocalSessionVerifier(options: LocalSessionVerifierOptions): LocalSessionVerifier {
  return {
    claims(token) {
      try {
        const { header, payload } = precheckCompactJwt(token, { maxTokenBytes: MAX_TOKEN_BYTES });
        return header['typ'] === LOCAL_TOKEN_TYPE || payload['iss'] === LOCAL_ISSUER;
      } catch {
        return false;
      }
    },

    async verify(token) {
      precheckCompactJwt(token, { maxTokenBytes: MAX_TOKEN_BYTES });
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, options.signer.publicKey, {
          issuer: LOCAL_ISSUER,
          audience: LOCAL_AUDIENCE,
          algorithms: ['EdDSA'],
          typ: LOCAL_TOKEN_TYPE,
          clockTolerance: CLOCK_SKEW_SECONDS,
          currentDate: new Date(options.clock.now()),
          requiredClaims: ['exp', 'iat', 'sub', 'kfp'],
        }));
      } catch (error) {
        throw authnErrorFromJose(error);
      }
      const name = payload['sub'];
      const user = typeof name === 'string' ? await options.findUser(name) : undefined;
      if (user === undefined || user.fingerprint !== payload['kfp']) {
        throw new JitcaError(ErrorCodes.AUTHN_LOCAL_USER, 'the session\'s local user is no longer registered with the key that logged in; log in again', {
          details: { reason: 'user' },
        });
      }
      return { subject: user.name, groups: user.groups, via: 'local' };
    },
  };
}
