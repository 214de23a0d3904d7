import type { CaGeneration, CaKind } from '../src/store/types.ts';

/**
 * Whether the relying parties that must trust a `next` generation do, so it may be promoted.
 * The rotation engine asks before every promotion that is not forced; implementations read what
 * hosts and clusters reported (trust-sync's host reports, the time the PEM has been published)
 * and decide nothing else. Advisory: a host can lie about itself, not about others.
 */
export interface PromotionReadiness {
  check(ca: CaKind, next: CaGeneration, now: Date): Promise<ReadinessVerdict>;
}

export interface ReadinessVerdict {
  ready: boolean;
  /** One line for `rotate status` and the audit record: why it is or is not ready. */
  detail: string;
  /** For ssh-user: the hosts seen in the readiness window and whether each has the generation. */
  hosts?: { name: string; lastSeen: string; hasGeneration: boolean }[];
}
