/**
 * A leader lease: one holder at a time per name, each holding a term number that only grows.
 * No backend compares one host's wall clock with another's: PostgreSQL judges expiry by the
 * database's clock (postgres-lease.ts); a Kubernetes Lease by how long this replica has seen the
 * same version of the object, on its own clock, as client-go does (kubernetes-lease.ts). Only the
 * PostgreSQL lease can fence a job's writes (leaseHeldBy); under a Kubernetes Lease, `holds` is a
 * check whose answer may be stale by the time the job acts.
 */
export interface LeaderTerm {
  /** Which lease (one per singleton job group, e.g. "jitca-singletons"). */
  name: string;
  /** This replica's identity for the lease: unique per process start. */
  holder: string;
  /** 1 for the first holder, +1 for every acquisition after: what fences a former leader. */
  term: number;
}

export interface LeaseBackend {
  /** Takes the lease when it is free or expired; undefined when someone else holds it. */
  tryAcquire(name: string, holder: string, leaseMs: number): Promise<LeaderTerm | undefined>;
  /** Extends a lease still held under this term; false when it expired or another term took it. */
  renew(term: LeaderTerm, leaseMs: number): Promise<boolean>;
  /** Ends the lease now (a graceful hand-over), if this term still holds it. */
  release(term: LeaderTerm): Promise<void>;
  /** True while this term holds the lease: the fence a singleton job's writes check. */
  holds(term: LeaderTerm): Promise<boolean>;
}
