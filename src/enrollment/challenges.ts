/**
 * Enrollment challenges: random, single use, bound to the person who asked, short-lived, and a
 * few per person. A FIDO attestation signs the challenge it was generated with, so a fresh
 * challenge the CA chose is what makes an attestation this enrollment's and not a replay.
 *
 * Kept in this process's memory: a challenge is spent within minutes by the same client, and
 * losing them at a restart only makes the engineer ask again. Replicas behind a load balancer
 * without affinity would need them in the store (reported as left open).
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';

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
  issue(subject: string): IssuedChallenge;
  /**
   * Spends the challenge: it is removed whatever follows, so an enrollment that fails cannot be
   * retried with it. Unknown, expired, spent or another person's -> ERR_CHALLENGE_INVALID (one
   * code, so the answer says nothing about other people's challenges).
   */
  consume(subject: string, id: string): Uint8Array;
}

const CHALLENGE_BYTES = 32;
const DEFAULT_LIFETIME_MS = 5 * 60 * 1000;
const DEFAULT_PER_PERSON = 5;

interface Outstanding {
  subject: string;
  challenge: Uint8Array;
  expiresAtMs: number;
}

export function createChallengeRegistry(clock: Clock, options: ChallengeOptions = {}): ChallengeRegistry {
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_LIFETIME_MS;
  const perPerson = options.perPerson ?? DEFAULT_PER_PERSON;
  // Insertion order is issue order, so the first of a person's entries is their oldest.
  const outstanding = new Map<string, Outstanding>();

  function sweepExpired(now: number): void {
    for (const [id, entry] of outstanding) if (entry.expiresAtMs <= now) outstanding.delete(id);
  }

  return {
    issue(subject) {
      const now = clock.now();
      sweepExpired(now);
      const mine = [...outstanding].filter(([, entry]) => entry.subject === subject);
      for (const [id] of mine.slice(0, Math.max(0, mine.length - perPerson + 1))) outstanding.delete(id);
      const challenge = new Uint8Array(randomBytes(CHALLENGE_BYTES));
      const id = Buffer.from(challenge).toString('base64url');
      outstanding.set(id, { subject, challenge, expiresAtMs: now + lifetimeMs });
      return { id, challenge, expiresAt: new Date(now + lifetimeMs) };
    },

    consume(subject, id) {
      const entry = outstanding.get(id);
      if (entry === undefined || entry.subject !== subject) {
        throw new JitcaError(ErrorCodes.CHALLENGE_INVALID, 'the challenge is unknown, already used, or not yours; ask for a new one (POST /v1/keys/challenge)');
      }
      outstanding.delete(id);
      if (entry.expiresAtMs <= clock.now()) {
        throw new JitcaError(ErrorCodes.CHALLENGE_INVALID, `the challenge expired (challenges live ${lifetimeMs / 1000}s); ask for a new one`);
      }
      return entry.challenge;
    },
  };
}
