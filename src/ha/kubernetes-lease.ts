import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { toKubeError } from '../k8s/kube-client.ts';
import type { LeaderTerm, LeaseBackend } from './lease.ts';

export interface KubernetesLeaseOptions {
  kubeConfig: KubeConfig;
  /** The namespace the Lease objects live in (the pods' own, which their Role covers). */
  namespace: string;
  /** Milliseconds on a clock that only moves forward: used for durations, never compared with another host's. */
  now?: () => number;
  /**
   * A call unanswered for this long fails as ERR_KUBE_UNAVAILABLE (default 10 s, client-go's renew
   * deadline). An API server that drops packets instead of refusing connections would otherwise
   * hold the elector's next step for the HTTP client's own timeouts (minutes).
   */
  requestTimeoutMs?: number;
}

/** What this replica last saw of a Lease, and when (its own clock): how client-go judges expiry. */
interface Observation {
  resourceVersion: string;
  at: number;
}

/** What this replica last wrote as the holder: renewals and the release update exactly this version. */
interface Held {
  lease: V1Lease;
  renewedAt: number;
  leaseMs: number;
}

function status(error: unknown): number | undefined {
  return isJitcaError(error) ? (error.details as { status?: number } | undefined)?.status : undefined;
}

const isConflict = (error: unknown): boolean => isJitcaError(error, ErrorCodes.KUBE_CONFLICT);

/** metav1.MicroTime: V1MicroTime writes the six fractional digits the API server's parser expects. */
function microTime(ms: number): V1MicroTime {
  return new V1MicroTime(ms);
}

/**
 * Leader leases as coordination.k8s.io/v1 Lease objects, the way client-go's leaderelection
 * (tryAcquireOrRenew, LeaseLock) uses them:
 *
 * - the holder is spec.holderIdentity; an empty one is a released lease;
 * - expiry is judged as client-go judges it: leaseDurationSeconds after this replica first saw the
 *   current version of the object, on its own clock. Neither renewTime nor the API server's clock is
 *   compared with ours, so clock skew between hosts cannot shorten a lease;
 * - every write is a PUT carrying the resourceVersion last read: of two replicas racing for an
 *   expired lease, or a stale leader renewing after a takeover, the API server lets exactly one
 *   through and answers 409 to the other;
 * - the term is leaseTransitions + 1: leaseTransitions grows by one at every change of holder.
 *
 * What a Lease cannot do is fence: nothing in PostgreSQL can check that the term writing is still
 * the holder, so a paused former leader's late writes land. Only jobs whose effects are idempotent
 * or guarded by a check of their own may run under it (the CSR controller: a claim row per CSR in
 * the store and the API server's resourceVersion checks keep every CSR signed once). Jobs that need
 * their writes fenced (rotation steps, the notification outbox) take the PostgreSQL lease and
 * leaseHeldBy (postgres-lease.ts).
 */
export function kubernetesLeaseBackend(options: KubernetesLeaseOptions): LeaseBackend {
  const api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  const { namespace } = options;
  const now = options.now ?? (() => performance.timeOrigin + performance.now());
  const observed = new Map<string, Observation>();
  const held = new Map<string, Held>();

  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;

  async function call<T>(what: string, action: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const unanswered = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new JitcaError(ErrorCodes.KUBE_UNAVAILABLE, `${what}: no answer within ${requestTimeoutMs} ms`, { retryable: true })), requestTimeoutMs);
    });
    try {
      // The abandoned request ends by itself later; its outcome is ignored (a write it made shows
      // up as a new resourceVersion, so the next conditional write gets a 409, never a double hold).
      return await Promise.race([action(), unanswered]);
    } catch (error) {
      throw toKubeError(error, what);
    } finally {
      clearTimeout(timer);
    }
  }
  const read = (name: string) => call(`read Lease ${namespace}/${name}`, () => api.readNamespacedLease({ name, namespace }));
  const replace = (lease: V1Lease) => {
    const name = lease.metadata?.name ?? '';
    return call(`update Lease ${namespace}/${name}`, () => api.replaceNamespacedLease({ name, namespace, body: lease }));
  };

  function observe(lease: V1Lease): Observation {
    const name = lease.metadata?.name ?? '';
    const resourceVersion = lease.metadata?.resourceVersion ?? '';
    const last = observed.get(name);
    if (last !== undefined && last.resourceVersion === resourceVersion) return last;
    const fresh = { resourceVersion, at: now() };
    observed.set(name, fresh);
    return fresh;
  }

  /** `at`: when the write was sent; the lease runs from no later than that, as the elector counts it. */
  function took(lease: V1Lease, leaseMs: number, holder: string, at: number): LeaderTerm {
    const name = lease.metadata?.name ?? '';
    observed.set(name, { resourceVersion: lease.metadata?.resourceVersion ?? '', at });
    held.set(name, { lease, renewedAt: at, leaseMs });
    return { name, holder, term: (lease.spec?.leaseTransitions ?? 0) + 1 };
  }

  const isOurs = (lease: V1Lease, term: LeaderTerm): boolean =>
    lease.spec?.holderIdentity === term.holder && (lease.spec?.leaseTransitions ?? 0) === term.term - 1;

  // leaseDurationSeconds is whole seconds: rounded up, so others wait at least leaseMs, and this
  // replica (which stops by its renew deadline, measured from its own write) stops before they start.
  const seconds = (leaseMs: number): number => Math.max(1, Math.ceil(leaseMs / 1000));

  return {
    async tryAcquire(name, holder, leaseMs) {
      const time = microTime(Date.now());
      const spec = { holderIdentity: holder, leaseDurationSeconds: seconds(leaseMs), acquireTime: time, renewTime: time };
      let current: V1Lease;
      try {
        current = await read(name);
      } catch (error) {
        if (status(error) !== 404) throw error;
        try {
          const sentAt = now();
          const created = await call(`create Lease ${namespace}/${name}`, () =>
            api.createNamespacedLease({ namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: { ...spec, leaseTransitions: 0 } } }),
          );
          return took(created, leaseMs, holder, sentAt);
        } catch (createError) {
          if (isConflict(createError)) return undefined; // another replica created it first
          throw createError;
        }
      }
      const seen = observe(current);
      const holderNow = current.spec?.holderIdentity ?? '';
      const durationMs = (current.spec?.leaseDurationSeconds ?? 0) * 1000;
      if (holderNow !== '' && seen.at + durationMs > now()) return undefined;
      try {
        const sentAt = now();
        const updated = await replace({ ...current, spec: { ...spec, leaseTransitions: (current.spec?.leaseTransitions ?? 0) + 1 } });
        return took(updated, leaseMs, holder, sentAt);
      } catch (error) {
        if (isConflict(error)) return undefined; // another replica took it first
        throw error;
      }
    },

    async renew(term, leaseMs) {
      const mine = held.get(term.name);
      if (mine === undefined || !isOurs(mine.lease, term)) return false;
      const renewedAt = now();
      const renewal = (lease: V1Lease): V1Lease => ({ ...lease, spec: { ...lease.spec, leaseDurationSeconds: seconds(leaseMs), renewTime: microTime(Date.now()) } });
      let written: V1Lease;
      try {
        written = await replace(renewal(mine.lease));
      } catch (error) {
        if (!isConflict(error)) throw error;
        // 409: the object changed since our last write. Ours still if only its metadata changed
        // (a label, an annotation); lost if the holder or the transitions did.
        const current = await read(term.name);
        if (!isOurs(current, term)) {
          held.delete(term.name);
          return false;
        }
        try {
          written = await replace(renewal(current));
        } catch (again) {
          if (!isConflict(again)) throw again;
          held.delete(term.name);
          return false;
        }
      }
      held.set(term.name, { lease: written, renewedAt, leaseMs });
      observed.set(term.name, { resourceVersion: written.metadata?.resourceVersion ?? '', at: renewedAt });
      return true;
    },

    async release(term) {
      const mine = held.get(term.name);
      held.delete(term.name);
      if (mine === undefined || !isOurs(mine.lease, term)) return;
      const time = microTime(Date.now());
      // client-go's release: no holder, the transitions kept, a one-second duration.
      const released: V1Lease = { ...mine.lease, spec: { ...mine.lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: time, renewTime: time } };
      try {
        await replace(released);
      } catch (error) {
        if (!isConflict(error)) throw error; // a 409: someone else holds it already
      }
    },

    /**
     * A check, not a fence: true when the API server still names this term and this replica's own
     * lease has not run out. The answer can be stale by the time the caller acts on it.
     */
    async holds(term) {
      const mine = held.get(term.name);
      if (mine === undefined || now() - mine.renewedAt >= mine.leaseMs) return false;
      return isOurs(await read(term.name), term);
    },
  };
}
