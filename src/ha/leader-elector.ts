import type { LeaderTerm, LeaseBackend } from './lease.ts';
import { checkLeaderTiming, type LeaderTiming } from './leader-timing.ts';

export interface LeaderElectorOptions {
  backend: LeaseBackend;
  name: string;
  holder: string;
  timing: LeaderTiming;
  /** Start the singleton jobs under this term. */
  onStartedLeading(term: LeaderTerm): void;
  /** Stop them: the lease was lost, not renewed in time, or released. */
  onStoppedLeading(term: LeaderTerm, reason: 'lost' | 'renew-deadline' | 'released'): void;
  /** A backend call failed (database down); the elector keeps trying. */
  onError(error: unknown): void;
  /** Milliseconds now: the local clock, used only to time the renew deadline. */
  now?: () => number;
}

export interface LeaderElector {
  /** The term this replica leads under, or undefined when it follows. */
  readonly term: LeaderTerm | undefined;
  start(): void;
  /** Stops trying; a leader releases its lease first, so a follower takes over at its next retry. */
  stop(): Promise<void>;
}

/**
 * One replica's side of leader election. Followers try to take the lease every retry interval;
 * the leader renews at the same interval and stops leading, without waiting for the database, once
 * the renew deadline passes without a successful renewal. Since the deadline is shorter than the
 * lease, a leader cut off from the database stops before anyone else can start; a leader that
 * cannot even notice (paused, SIGSTOPped) is what the fence in its writes is for (postgres-lease.ts).
 */
export function createLeaderElector(options: LeaderElectorOptions): LeaderElector {
  const timing = checkLeaderTiming(options.timing);
  const now = options.now ?? Date.now;
  let term: LeaderTerm | undefined;
  let lastRenewed = 0;
  let timer: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  let running = false;
  let inFlight: Promise<void> = Promise.resolve();

  const stopLeading = (reason: 'lost' | 'renew-deadline' | 'released'): void => {
    const ended = term;
    term = undefined;
    if (deadline !== undefined) clearTimeout(deadline);
    if (ended !== undefined) options.onStoppedLeading(ended, reason);
  };

  // Armed at every successful acquisition or renewal: a renewal that hangs (a database that stopped
  // answering) still ends the leadership on time, not when the call finally fails. Counted from
  // when the call was sent, not when its answer came: the lease was written somewhere in between,
  // and others count its expiry from no earlier than the write, so a slow answer must not extend
  // this replica's belief past theirs.
  const renewed = (current: LeaderTerm, sentAt: number): void => {
    lastRenewed = sentAt;
    if (deadline !== undefined) clearTimeout(deadline);
    deadline = setTimeout(
      () => {
        if (term === current) stopLeading('renew-deadline');
      },
      Math.max(0, timing.renewDeadlineMs - (now() - sentAt)),
    );
    deadline.unref();
  };

  const step = async (): Promise<void> => {
    try {
      const sentAt = now();
      if (term === undefined) {
        const acquired = await options.backend.tryAcquire(options.name, options.holder, timing.leaseMs);
        if (acquired !== undefined && running) {
          term = acquired;
          renewed(acquired, sentAt);
          options.onStartedLeading(acquired);
        } else if (acquired !== undefined) {
          await options.backend.release(acquired);
        }
        return;
      }
      const current = term;
      if (await options.backend.renew(current, timing.leaseMs)) {
        if (term === current) renewed(current, sentAt);
      } else if (term === current) {
        stopLeading('lost');
      }
    } catch (error) {
      options.onError(error);
    }
  };

  const schedule = (): void => {
    if (!running) return;
    timer = setTimeout(() => {
      inFlight = step().finally(schedule);
    }, timing.retryMs);
    timer.unref();
  };

  return {
    get term() {
      // A renewal that has not come back in time does not leave this replica believing it leads.
      if (term !== undefined && now() - lastRenewed >= timing.renewDeadlineMs) stopLeading('renew-deadline');
      return term;
    },
    start() {
      if (running) return;
      running = true;
      inFlight = step().finally(schedule);
    },
    async stop() {
      running = false;
      if (timer !== undefined) clearTimeout(timer);
      await inFlight;
      const held = term;
      if (held === undefined) return;
      stopLeading('released');
      await options.backend.release(held).catch(options.onError);
    },
  };
}
