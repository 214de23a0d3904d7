import { ErrorCodes, JitcaError } from '../errors.ts';

/** How long a lease lasts, how long a leader keeps failing to renew before it stops, how often it tries. */
export interface LeaderTiming {
  leaseMs: number;
  renewDeadlineMs: number;
  retryMs: number;
}

/**
 * client-go's defaults (15 s, 10 s, 2 s): a killed leader is replaced within one lease, and a
 * leader cut off from the database stops acting after the renew deadline, 5 s before its lease
 * can pass to another replica. cert-manager's longer 60/40/15 s suits an API server under load;
 * the database answers renewals in milliseconds.
 */
export const DEFAULT_LEADER_TIMING: LeaderTiming = { leaseMs: 15_000, renewDeadlineMs: 10_000, retryMs: 2_000 };

/**
 * client-go's rule (leaderelection.go NewLeaderElector): lease > renew deadline > 1.2 × retry
 * (its JitterFactor). Otherwise a leader could still believe it leads after its lease was taken,
 * or give up before its first retry.
 */
export function checkLeaderTiming(timing: LeaderTiming): LeaderTiming {
  const { leaseMs, renewDeadlineMs, retryMs } = timing;
  const positive = [leaseMs, renewDeadlineMs, retryMs].every((value) => Number.isInteger(value) && value > 0);
  if (!positive || !(leaseMs > renewDeadlineMs) || !(renewDeadlineMs > 1.2 * retryMs)) {
    throw new JitcaError(
      ErrorCodes.CONFIG_INVALID,
      `leader election needs whole positive milliseconds with lease (${leaseMs}) > renew deadline (${renewDeadlineMs}) > 1.2 × retry (${retryMs})`,
    );
  }
  return timing;
}
