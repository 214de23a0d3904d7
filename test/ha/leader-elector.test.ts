/**
 * The elector's own rule, on a backend held in memory and a fake clock for its judgement: a
 * renewal whose answer comes late counts from when it was sent. The lease was written somewhere
 * between sending and answering, and the other replicas count its expiry from the write, so a
 * leader that counted from the answer could believe it leads after they have taken over.
 */
import { describe, expect, it } from 'vitest';
import { createLeaderElector } from '../../src/ha/leader-elector.ts';
import type { LeaderTerm, LeaseBackend } from '../../src/ha/lease.ts';

/** One lease, always granted; each renewal waits until the test answers it. */
function heldBackend(): LeaseBackend & { renewals: Array<(renewed: boolean) => void> } {
  const renewals: Array<(renewed: boolean) => void> = [];
  return {
    renewals,
    tryAcquire: async (name, holder) => ({ name, holder, term: 1 }),
    renew: () => new Promise<boolean>((resolve) => renewals.push(resolve)),
    release: async () => undefined,
    holds: async () => true,
  };
}

async function until(check: () => boolean, withinMs: number): Promise<void> {
  const end = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the leader elector', () => {
  it('counts a late renewal from when it was sent: the renew deadline ends leadership that long after sending', async () => {
    const clock = { ms: 0 };
    const backend = heldBackend();
    const events: string[] = [];
    // The real timers stay far away (a 20 s deadline); the fake clock decides what `term` says.
    const elector = createLeaderElector({
      backend,
      name: 'lease',
      holder: 'me',
      timing: { leaseMs: 30_000, renewDeadlineMs: 20_000, retryMs: 20 },
      now: () => clock.ms,
      onStartedLeading: (term: LeaderTerm) => events.push(`lead ${term.term}`),
      onStoppedLeading: (term: LeaderTerm, reason) => events.push(`stop ${term.term} ${reason}`),
      onError: () => events.push('error'),
    });
    elector.start();
    try {
      await until(() => backend.renewals.length === 1, 5_000);
      expect(events).toEqual(['lead 1']);
      // Sent at 0; the answer (renewed) arrives 15 s later on the elector's clock.
      clock.ms = 15_000;
      backend.renewals[0]?.(true);
      await until(() => backend.renewals.length === 2, 5_000); // the next renewal is out, unanswered
      clock.ms = 19_999;
      expect(elector.term?.term).toBe(1);
      // 20 s after the renewal was sent, though only 5 s after its answer came.
      clock.ms = 20_000;
      expect(elector.term).toBeUndefined();
      expect(events).toEqual(['lead 1', 'stop 1 renew-deadline']);
    } finally {
      for (const answer of backend.renewals) answer(false);
      await elector.stop();
    }
  });
});
