/**
 * Enrollment challenges: random, single use, bound to the person who asked, short-lived, and a
 * few per person. A FIDO attestation signs the challenge it was generated with, so a fresh
 * challenge the CA chose is what makes an attestation this enrollment's and not a replay.
 *
 * Kept in the store's auth_challenges table with purpose "enroll" (beside login's "login"), so a
 * challenge one replica issued is answered through any other without session affinity, and spent
 * once across all of them (the store's DELETE ... RETURNING).
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Store } from '../store/types.ts';

export const ENROLL_PURPOSE = 'enroll';

export interface ChallengeOptions {
  /** How long a challenge may be answered, ms (default 5 minutes). */
  lifetimeMs?: number;
  /** Most unspent challenges per person; asking for more drops their oldest (default 5). */
  perPerson?: number;
}

export interface IssuedChallenge {
  /** base64url of the 32 random bytes: the id the enrollment names, and what the client signs. */
  id: string;
  challenge: Uint8Array;
  expiresAt: Date;
}

export interface ChallengeRegistry {
  /** `address` is the asking client's, kept on the row for the record; it bounds nothing here. */
  issue(subject: string, address: string): Promise<IssuedChallenge>;
  /**
   * Spends the challenge: it is removed whatever follows, so an enrollment that fails cannot be
   * retried with it. Unknown, expired, spent or another person's -> ERR_CHALLENGE_INVALID (one
   * code, so the answer says nothing about other people's challenges); another person's attempt
   * leaves it to its owner.
   */
  consume(subject: string, id: string): Promise<Uint8Array>;
}

const CHALLENGE_BYTES = 32;
const DEFAULT_LIFETIME_MS = 5 * 60 * 1000;
const DEFAULT_PER_PERSON = 5;

export function createChallengeRegistry(
  store: Pick<Store, 'issueAuthChallenge' | 'consumeAuthChallenge'>,
  clock: Clock,
  options: ChallengeOptions = {},
): ChallengeRegistry {
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_LIFETIME_MS;
  const perPerson = options.perPerson ?? DEFAULT_PER_PERSON;

  return {
    async issue(subject, address) {
      const now = clock.now();
      const challenge = new Uint8Array(randomBytes(CHALLENGE_BYTES));
      const id = Buffer.from(challenge).toString('base64url');
      const expiresAt = new Date(now + lifetimeMs);
      // Replacing the oldest never answers name-full, and no address bound is asked for.
      const outcome = await store.issueAuthChallenge(
        { id, purpose: ENROLL_PURPOSE, name: subject, address, expiresAt: expiresAt.toISOString() },
        { perName: perPerson, whenNameFull: 'replace-oldest', nowIso: new Date(now).toISOString() },
      );
      if (outcome !== 'issued') throw new JitcaError(ErrorCodes.RATE_LIMITED, `too many unanswered enrollment challenges (${outcome})`);
      return { id, challenge, expiresAt };
    },

    async consume(subject, id) {
      const spent = await store.consumeAuthChallenge(id, ENROLL_PURPOSE, subject);
      if (spent === undefined) {
        throw new JitcaError(ErrorCodes.CHALLENGE_INVALID, 'the challenge is unknown, already used, or not yours; ask for a new one (POST /v1/keys/challenge)');
      }
      if (Date.parse(spent.expiresAt) <= clock.now()) {
        throw new JitcaError(ErrorCodes.CHALLENGE_INVALID, `the challenge expired (challenges live ${lifetimeMs / 1000}s); ask for a new one`);
      }
      return new Uint8Array(Buffer.from(spent.id, 'base64url'));
    },
  };
}
