import type { LeaderTiming } from '../ha/leader-timing.ts';
import type { LeadershipStatus } from '../ha/leadership.ts';
import type { LeaseBackend } from '../ha/lease.ts';
import { runSingletonJobs, type SingletonJobsLog } from '../ha/singleton-jobs.ts';
import type { Store } from '../store/types.ts';
import type { CsrController } from './csr-controller.ts';
import { describeError } from './logger.ts';

export interface CsrControllerElectionOptions {
  /** A new controller for each term: a stopped controller does not start again. */
  createController(): CsrController;
  /** Absent: this replica watches whatever the others do (the store's claims keep each CSR signed once). */
  lease?: { backend: LeaseBackend; name: string; timing: LeaderTiming };
  store: Pick<Store, 'appendAudit'>;
  log: SingletonJobsLog;
  /**
   * Other work that is the same on every replica and so needs only one (trust publishing: every
   * replica would write identical objects), run beside the controller by whoever leads.
   */
  alsoOnLeader?: ReadonlyArray<{ name: string; start: () => () => void }>;
}

export interface ElectedCsrController {
  /** The controller watching now, if this replica leads (or runs without a lease). */
  current(): CsrController | undefined;
  status(): LeadershipStatus;
  stop(): Promise<void>;
}

/**
 * Runs the CSR controller on the replica that holds the lease, as a singleton job (src/ha): one
 * watch and one work queue for the cluster instead of one per replica. The lease saves duplicate
 * work; it is not what keeps a CSR signed once. A former leader that has not noticed its loss
 * (paused past its lease) may still carry out a CSR beside the new one, and a Kubernetes Lease
 * cannot fence that; the claim row per CSR in the store and the API server's resourceVersion
 * checks (csr-claim.ts) do, as they did before leadership. That is why this job may run under a
 * Kubernetes Lease: its effects are guarded by checks of their own.
 */
export function runElectedCsrController(options: CsrControllerElectionOptions): ElectedCsrController {
  let controller: CsrController | undefined;
  const startController = (): (() => Promise<void>) => {
    const started = options.createController();
    controller = started;
    started.start().catch((error: unknown) => options.log.warn(describeError(error), 'the CSR controller did not start'));
    return async () => {
      if (controller === started) controller = undefined;
      await started.stop();
    };
  };

  const others = (options.alsoOnLeader ?? []).map((job) => ({
    name: job.name,
    start: (): (() => Promise<void>) => {
      const stop = job.start();
      return async () => stop();
    },
  }));
  if (options.lease === undefined) {
    const stops = [startController(), ...others.map((job) => job.start())];
    const status: LeadershipStatus = { mode: 'single-replica', leading: true, term: undefined, transitions: { started: 1, stopped: 0 } };
    return { current: () => controller, status: () => status, stop: async () => void (await Promise.all(stops.map((stop) => stop()))) };
  }
  const jobs = runSingletonJobs({
    jobs: [{ name: 'csr-controller', start: startController }, ...others],
    store: options.store,
    log: options.log,
    leaseBackend: options.lease.backend,
    leaseName: options.lease.name,
    timing: options.lease.timing,
  });
  return { current: () => controller, status: () => jobs.status(), stop: () => jobs.stop() };
}
