/**
 * Leader leases as coordination.k8s.io/v1 Lease objects against the Kubernetes API double (which
 * serves Leases with the registry's optimistic concurrency, kube-leases.ts), reached over HTTPS
 * through @kubernetes/client-node as in a cluster. The backend's own clock is a fake one: expiry is
 * judged by how long this replica has seen the same version of the Lease, so moving that clock is
 * all a takeover needs, with no sleeping.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { ApiException, CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeaderElector } from '../../src/ha/leader-elector.ts';
import { kubernetesLeaseBackend } from '../../src/ha/kubernetes-lease.ts';
import type { LeaderTerm, LeaseBackend } from '../../src/ha/lease.ts';
import { createKubeConfig } from '../../src/k8s/kube-client.ts';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.ts';
import { createLeasesDouble, type LeasesDouble } from '../support/kube-leases.ts';
import { codeOfAsync } from '../support/error-codes.ts';

const TOKEN = 'token-jitca';
const NAMESPACE = 'jitca';
const LEASE_MS = 15_000;
const users = { [TOKEN]: { username: 'system:serviceaccount:jitca:jitca', groups: [] } };

let leases: LeasesDouble;
let double: KubeApiDouble;
let nextLease = 0;

beforeAll(async () => {
  leases = createLeasesDouble();
  double = await startKubeApiDouble({ users, leases });
});
afterAll(() => double?.close());

/** One replica's backend with its own fake clock (milliseconds, moved by hand). */
function replica(api: KubeApiDouble = double): { backend: LeaseBackend; clock: { ms: number } } {
  const clock = { ms: 1_000_000 };
  const kubeConfig = createKubeConfig({ kind: 'token', server: api.url, token: TOKEN, caPem: api.caPem });
  return { backend: kubernetesLeaseBackend({ kubeConfig, namespace: NAMESPACE, now: () => clock.ms }), clock };
}

const freshName = (): string => `jitca-test-${(nextLease += 1)}`;

describe('the Kubernetes Lease backend', () => {
  it('creates the Lease on first acquisition (term 1) and refuses a second holder while it is renewed', async () => {
    const name = freshName();
    const a = replica();
    const b = replica();
    const term = await a.backend.tryAcquire(name, 'a', LEASE_MS);
    expect(term).toEqual({ name, holder: 'a', term: 1 });
    const stored = leases.get(NAMESPACE, name);
    expect(stored?.spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    // MicroTime: six fractional digits, as the API server's RFC3339Micro parser requires.
    expect(stored?.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(stored?.spec.acquireTime).toBe(stored?.spec.renewTime);

    expect(await b.backend.tryAcquire(name, 'b', LEASE_MS)).toBeUndefined();
    const before = stored?.metadata.resourceVersion;
    expect(await a.backend.renew(term as LeaderTerm, LEASE_MS)).toBe(true);
    const renewed = leases.get(NAMESPACE, name);
    expect(renewed?.metadata.resourceVersion).not.toBe(before);
    expect(renewed?.spec).toMatchObject({ holderIdentity: 'a', leaseTransitions: 0 });
    expect(await a.backend.holds(term as LeaderTerm)).toBe(true);

    // b has seen a new version at each look: however far its clock moves between renewals, the
    // lease is never judged expired while a renews within its duration.
    for (let i = 0; i < 3; i += 1) {
      b.clock.ms += LEASE_MS - 1;
      expect(await b.backend.tryAcquire(name, 'b', LEASE_MS)).toBeUndefined();
      expect(await a.backend.renew(term as LeaderTerm, LEASE_MS)).toBe(true);
    }
  });

  it('lets another replica take over once it has seen the same version for a whole lease, at term + 1', async () => {
    const name = freshName();
    const a = replica();
    const b = replica();
    const first = (await a.backend.tryAcquire(name, 'a', LEASE_MS)) as LeaderTerm;
    expect(await b.backend.tryAcquire(name, 'b', LEASE_MS)).toBeUndefined(); // b's first look
    b.clock.ms += LEASE_MS - 1;
    expect(await b.backend.tryAcquire(name, 'b', LEASE_MS)).toBeUndefined();
    b.clock.ms += 1;
    const second = await b.backend.tryAcquire(name, 'b', LEASE_MS);
    expect(second).toEqual({ name, holder: 'b', term: first.term + 1 });
    expect(leases.get(NAMESPACE, name)?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(await a.backend.holds(first)).toBe(false);
  });

  it('answers a stale renewal with 409 from the API server and reports the lease lost, leaving the new holder alone', async () => {
    const name = freshName();
    const a = replica();
    const b = replica();
    const first = (await a.backend.tryAcquire(name, 'a', LEASE_MS)) as LeaderTerm;
    await b.backend.tryAcquire(name, 'b', LEASE_MS);
    b.clock.ms += LEASE_MS;
    const second = (await b.backend.tryAcquire(name, 'b', LEASE_MS)) as LeaderTerm;
    const conflictsBefore = leases.stats.conflicts;
    const takenOver = leases.get(NAMESPACE, name);

    // a wakes up (paused, not dead) and renews with the resourceVersion it last wrote.
    expect(await a.backend.renew(first, LEASE_MS)).toBe(false);
    expect(leases.stats.conflicts).toBe(conflictsBefore + 1);
    expect(leases.get(NAMESPACE, name)).toEqual(takenOver);
    // Its release changes nothing either: it no longer holds that version.
    await a.backend.release(first);
    expect(leases.get(NAMESPACE, name)).toEqual(takenOver);
    expect(await b.backend.renew(second, LEASE_MS)).toBe(true);
  });

  it('keeps the lease through a 409 caused by a metadata change (an annotation), not by another holder', async () => {
    const name = freshName();
    const a = replica();
    const term = (await a.backend.tryAcquire(name, 'a', LEASE_MS)) as LeaderTerm;
    leases.touch(NAMESPACE, name);
    const conflictsBefore = leases.stats.conflicts;
    expect(await a.backend.renew(term, LEASE_MS)).toBe(true);
    expect(leases.stats.conflicts).toBe(conflictsBefore + 1);
    expect(leases.get(NAMESPACE, name)?.spec).toMatchObject({ holderIdentity: 'a', leaseTransitions: 0 });
  });

  it('releases as client-go does (no holder, transitions kept), so the next replica takes over at once', async () => {
    const name = freshName();
    const a = replica();
    const b = replica();
    const first = (await a.backend.tryAcquire(name, 'a', LEASE_MS)) as LeaderTerm;
    expect(await b.backend.tryAcquire(name, 'b', LEASE_MS)).toBeUndefined();
    await a.backend.release(first);
    expect(leases.get(NAMESPACE, name)?.spec).toMatchObject({ leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(leases.get(NAMESPACE, name)?.spec.holderIdentity).toBeUndefined();
    expect(await a.backend.renew(first, LEASE_MS)).toBe(false);
    expect(await b.backend.tryAcquire(name, 'b', LEASE_MS)).toEqual({ name, holder: 'b', term: 2 });
  });

  it('lets exactly one of two replicas racing for an expired lease through', async () => {
    const name = freshName();
    const a = replica();
    const contenders = [replica(), replica(), replica()];
    await a.backend.tryAcquire(name, 'a', LEASE_MS);
    for (const contender of contenders) {
      await contender.backend.tryAcquire(name, 'x', LEASE_MS);
      contender.clock.ms += LEASE_MS;
    }
    const results = await Promise.all(contenders.map((contender, i) => contender.backend.tryAcquire(name, `c${i}`, LEASE_MS)));
    const winners = results.filter((result) => result !== undefined);
    expect(winners).toHaveLength(1);
    expect(winners[0]?.term).toBe(2);
    expect(leases.get(NAMESPACE, name)?.spec.leaseTransitions).toBe(1);
  });

  it('is refused by the API server where RBAC grants nothing on Leases (403, ERR_KUBE_REQUEST_FAILED), and throws rather than claiming leadership', async () => {
    const denied = await startKubeApiDouble({ users, leases, authorize: (question) => question.resource !== 'leases' });
    try {
      const { backend } = replica(denied);
      expect(await codeOfAsync(backend.tryAcquire(freshName(), 'a', LEASE_MS))).toBe('ERR_KUBE_REQUEST_FAILED');
    } finally {
      await denied.close();
    }
  });
});

describe('an API server that accepts connections and never answers', () => {
  it('fails each call with ERR_KUBE_UNAVAILABLE after the request timeout instead of holding the elector', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const kubeConfig = createKubeConfig({ kind: 'token', server: `https://127.0.0.1:${port}`, token: TOKEN, caPem: double.caPem });
      const backend = kubernetesLeaseBackend({ kubeConfig, namespace: NAMESPACE, requestTimeoutMs: 300 });
      expect(await codeOfAsync(backend.tryAcquire(freshName(), 'a', LEASE_MS))).toBe('ERR_KUBE_UNAVAILABLE');
      expect(sockets.size).toBeGreaterThan(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe("the API double's Leases (the registry's rules the backend relies on)", () => {
  /** The HTTP status a call fails with, or 200/201 when it succeeds. */
  async function statusOf(call: Promise<unknown>): Promise<number> {
    try {
      await call;
      return 200;
    } catch (error) {
      if (error instanceof ApiException) return error.code;
      throw error;
    }
  }

  it('refuses a stale resourceVersion (409), a missing one (422), a second create (409) and an invalid spec (422); a PUT that changes nothing is no write', async () => {
    const api = double.kubeConfig(TOKEN).makeApiClient(CoordinationV1Api);
    const name = freshName();
    const body = (spec: Record<string, unknown>, resourceVersion?: string) => ({
      metadata: { name, namespace: NAMESPACE, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
      spec,
    });
    const created = await api.createNamespacedLease({ namespace: NAMESPACE, body: body({ holderIdentity: 'a', leaseDurationSeconds: 15 }) });
    const rv = created.metadata?.resourceVersion ?? '';
    expect(await statusOf(api.createNamespacedLease({ namespace: NAMESPACE, body: body({}) }))).toBe(409);
    expect(await statusOf(api.replaceNamespacedLease({ name, namespace: NAMESPACE, body: body({ holderIdentity: 'b' }) }))).toBe(422);
    expect(await statusOf(api.replaceNamespacedLease({ name, namespace: NAMESPACE, body: body({ holderIdentity: 'b', leaseDurationSeconds: 0 }, rv) }))).toBe(422);
    expect(await statusOf(api.replaceNamespacedLease({ name, namespace: NAMESPACE, body: body({ holderIdentity: 'b', leaseTransitions: -1 }, rv) }))).toBe(422);
    const same = await api.replaceNamespacedLease({ name, namespace: NAMESPACE, body: body({ holderIdentity: 'a', leaseDurationSeconds: 15 }, rv) });
    expect(same.metadata?.resourceVersion).toBe(rv);
    const changed = await api.replaceNamespacedLease({ name, namespace: NAMESPACE, body: body({ holderIdentity: 'b', leaseDurationSeconds: 15 }, rv) });
    expect(changed.metadata?.resourceVersion).not.toBe(rv);
    expect(await statusOf(api.replaceNamespacedLease({ name, namespace: NAMESPACE, body: body({ holderIdentity: 'c' }, rv) }))).toBe(409);
    expect(leases.get(NAMESPACE, name)?.spec.holderIdentity).toBe('b');
    expect(await statusOf(api.readNamespacedLease({ name: 'no-such-lease', namespace: NAMESPACE }))).toBe(404);
  });
});

describe('an elector on Kubernetes Leases', () => {
  // Real timers (the HTTP client needs them): short, but with the renew deadline well inside the lease.
  const timing = { leaseMs: 3000, renewDeadlineMs: 2000, retryMs: 250 };

  it('steps down by its renew deadline when the API server is unreachable, and leads again once it is back', async () => {
    const api = await startKubeApiDouble({ users, leases });
    const port = Number(new URL(api.url).port);
    const serving = api.serving;
    const events: string[] = [];
    const errors: string[] = [];
    const name = freshName();
    const kubeConfig = createKubeConfig({ kind: 'token', server: api.url, token: TOKEN, caPem: api.caPem });
    const elector = createLeaderElector({
      backend: kubernetesLeaseBackend({ kubeConfig, namespace: NAMESPACE }),
      name,
      holder: 'a',
      timing,
      onStartedLeading: (term) => events.push(`lead ${term.term}`),
      onStoppedLeading: (term, reason) => events.push(`stop ${term.term} ${reason}`),
      onError: (error) => errors.push((error as { code?: string }).code ?? 'unknown'),
    });
    let back: KubeApiDouble | undefined;
    try {
      elector.start();
      await until(() => events.includes('lead 1'), 10_000);
      await api.close(); // connection refused from here on
      await until(() => events.length === 2, 10_000);
      expect(events).toEqual(['lead 1', 'stop 1 renew-deadline']);
      expect(elector.term).toBeUndefined();
      expect(errors.length).toBeGreaterThan(0);
      expect(new Set(errors)).toEqual(new Set(['ERR_KUBE_UNAVAILABLE']));

      back = await startKubeApiDouble({ users, leases, port, ...(serving === undefined ? {} : { serving }) });
      // The Lease still names "a" (its last renewal): "a" itself must wait the lease out like anyone.
      await until(() => events.length === 3, 15_000);
      expect(events[2]).toBe('lead 2');
      expect(leases.get(NAMESPACE, name)?.spec).toMatchObject({ holderIdentity: 'a', leaseTransitions: 1 });
    } finally {
      await elector.stop();
      await back?.close();
    }
    // stop() released the lease through the restarted server.
    expect(leases.get(NAMESPACE, name)?.spec.holderIdentity).toBeUndefined();
  });
});

/** Waits (bounded) until check() is true, polling every 50 ms. */
async function until(check: () => boolean, withinMs: number): Promise<void> {
  const end = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
