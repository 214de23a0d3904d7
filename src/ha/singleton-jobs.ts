import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Store } from '../store/types.ts';
import type { DatabaseSchema } from '../store/schema.ts';
import { createLeaderElector, type LeaderElector } from './leader-elector.ts';
import { DEFAULT_LEADER_TIMING, type LeaderTiming } from './leader-timing.ts';
import type { LeadershipStatus } from './leadership.ts';
import type { LeaderTerm, LeaseBackend } from './lease.ts';
import { postgresLeaseBackend } from './postgres-lease.ts';

/** A job only one replica may run: started when this replica leads, stopped when it stops. */
export interface SingletonJob {
  name: string;
  /**
   * Starts the job; returns how to stop it. `leader` is the lease term it runs under (PostgreSQL),
   * for the job to fence its own writes with (leaseHeldBy); undefined on SQLite (one replica).
   */
  start(leader?: LeaderTerm): () => Promise<void>;
}

export interface SingletonJobsLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface SingletonJobsOptions {
  jobs: readonly SingletonJob[];
  store: Pick<Store, 'appendAudit'>;
  log: SingletonJobsLog;
  /** The PostgreSQL database the lease lives in; absent (SQLite) means one replica, always leading. */
  leaseDatabase?: Kysely<DatabaseSchema>;
  /**
   * Another lease instead of the database's (a Kubernetes Lease: kubernetes-lease.ts), for jobs
   * whose writes need no fence; wins over leaseDatabase. Its terms are not rows of leader_leases,
   * so a job that fences with leaseHeldBy anyway has every write refused (fails closed).
   */
  leaseBackend?: LeaseBackend;
  /** The lease's name (default SINGLETON_LEASE): job groups with names of their own elect separately. */
  leaseName?: string;
  timing?: LeaderTiming;
}

export interface SingletonJobs {
  status(): LeadershipStatus;
  /** Stops the jobs and, when leading, releases the lease so another replica takes over at once. */
  stop(): Promise<void>;
}

/** The lease all singleton jobs share: one leader runs them all. */
export const SINGLETON_LEASE = 'jitca-singletons';

/**
 * Runs the singleton jobs where exactly one replica should: on SQLite (one replica by
 * construction) here, always; on PostgreSQL only while this replica holds the leader lease. Each
 * leadership change is logged and audited (`ha.leader`) by the replica it concerns.
 */
export function runSingletonJobs(options: SingletonJobsOptions): SingletonJobs {
  let stops: Array<() => Promise<void>> = [];
  const transitions = { started: 0, stopped: 0 };
  const startJobs = (leader?: LeaderTerm): void => {
    stops = options.jobs.map((job) => job.start(leader));
  };
  const stopJobs = async (): Promise<void> => {
    const running = stops;
    stops = [];
    await Promise.all(running.map((stop) => stop().catch((error: unknown) => options.log.warn({ err: error }, 'a singleton job failed to stop'))));
  };

  const backend = options.leaseBackend ?? (options.leaseDatabase === undefined ? undefined : postgresLeaseBackend(options.leaseDatabase));
  if (backend === undefined) {
    options.log.info({ jobs: options.jobs.map((job) => job.name) }, 'single replica (SQLite store): this process runs the singleton jobs');
    startJobs();
    transitions.started = 1;
    return { status: () => ({ mode: 'single-replica', leading: true, term: undefined, transitions }), stop: stopJobs };
  }

  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const leaseName = options.leaseName ?? SINGLETON_LEASE;
  const record = (leading: boolean, term: number, reason: string): void => {
    transitions[leading ? 'started' : 'stopped'] += 1;
    options.log.info({ leader: leading, lease: leaseName, term, holder, reason }, leading ? 'leading: running the singleton jobs' : 'no longer leading: singleton jobs stopped');
    options.store
      .appendAudit({ type: 'ha.leader', actor: 'system', data: { lease: leaseName, holder, term, leading, reason, jobs: options.jobs.map((job) => job.name) } })
      .catch((error: unknown) => options.log.warn({ err: error }, 'could not audit a leadership change'));
  };
  const elector: LeaderElector = createLeaderElector({
    backend,
    name: leaseName,
    holder,
    timing: options.timing ?? DEFAULT_LEADER_TIMING,
    onStartedLeading: (term) => {
      record(true, term.term, 'acquired');
      startJobs(term);
    },
    onStoppedLeading: (term, reason) => {
      void stopJobs();
      record(false, term.term, reason);
    },
    onError: (error) => options.log.warn({ err: error }, 'leader lease: the lease backend (database or API server) did not answer'),
  });
  elector.start();
  return {
    status: () => {
      const term = elector.term;
      return { mode: 'elected', leading: term !== undefined, term: term?.term, transitions };
    },
    async stop() {
      await stopJobs();
      await elector.stop();
    },
  };
}
