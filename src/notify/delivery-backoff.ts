/**
 * When a failed delivery is tried again: base × 2^(attempt-1), never more than the cap, less up to
 * a fifth at random so the retries of many rows failed by one outage do not arrive together
 * (a receiver coming back is not met by the whole backlog at once).
 */
export function retryDelayMs(attempt: number, policy: { baseMs: number; capMs: number }, random: () => number = Math.random): number {
  const exponential = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 40));
  return Math.round(exponential * (1 - random() / 5));
}
