/**
 * Two CSR controller replicas under one Kubernetes Lease (the API double serves Leases, with the
 * RBAC of deploy/kubernetes-ha's Role): only the holder watches and signs; a graceful stop hands
 * the lease over, and the other replica carries on under term 2. Every CSR is signed exactly once
 * across the hand-over. Real SoftHSM2 CA key, real store, the controller's own code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubernetesLeaseBackend } from '../../src/ha/kubernetes-lease.ts';
import type { LeaseBackend } from '../../src/ha/lease.ts';
import type { Signer } from '../../src/keys/signer.ts';
import { createCsrController } from '../../src/k8s/csr-controller.ts';
import { runElectedCsrController, type ElectedCsrController } from '../../src/k8s/csr-controller-election.ts';
import { createCsrApi, createKubeConfig } from '../../src/k8s/kube-client.ts';
import { TOKENS, createCaFixture, createCsrEnvironment, recordingLogger, type CaFixture, type CsrEnvironment } from '../support/kube-csr-harness.ts';
import { buildEd25519Csr } from '../support/kube-der.ts';
import { createLeasesDouble, type LeasesDouble } from '../support/kube-leases.ts';

const LEASE = 'jitca-csr-controller';
const NAMESPACE = 'jitca';
// Real timers (the HTTP client needs them); the renew deadline well inside the lease.
const TIMING = { leaseMs: 3000, renewDeadlineMs: 2000, retryMs: 250 };

let ca: CaFixture;
let env: CsrEnvironment;
let leases: LeasesDouble;

beforeAll(async () => {
  ca = await createCaFixture();
  leases = createLeasesDouble();
  env = await createCsrEnvironment(ca, { leases });
});
afterAll(async () => {
  await env?.close();
  ca?.close();
});

interface Replica {
  name: string;
  elected: ElectedCsrController;
  /** Controllers this replica created, one per term it led. */
  created: string[];
  /** The leader-only job beside the controller (as trust publishing runs): whether it runs here now. */
  publishing: { running: boolean; starts: number };
}

interface ReplicaOptions {
  /** Wraps the Lease backend (to pause this replica's renewals). */
  backend?: (inner: LeaseBackend) => LeaseBackend;
  signer?: Signer;
  /** The controller's claim lease per CSR (default 30 s). */
  claimSeconds?: number;
}

function startReplica(name: string, options: ReplicaOptions = {}): Replica {
  const kubeConfig = createKubeConfig({ kind: 'token', server: env.double.url, token: TOKENS.controller, caPem: env.double.caPem });
  const backend = kubernetesLeaseBackend({ kubeConfig, namespace: NAMESPACE });
  const created: string[] = [];
  const publishing = { running: false, starts: 0 };
  const log = recordingLogger(env.logs);
  const elected = runElectedCsrController({
    createController: () => {
      const instanceId = `${name}/${created.length + 1}`;
      created.push(instanceId);
      return createCsrController({
        api: createCsrApi(kubeConfig),
        policy: env.policy,
        store: env.store,
        activeCa: () => ({ signer: options.signer ?? ca.signer, certificate: ca.caCertificate }),
        ...(options.claimSeconds === undefined ? {} : { leaseSeconds: options.claimSeconds }),
        clock: { now: () => Date.now() },
        logger: log,
        instanceId,
        watchBackoff: { initialMs: 20, maxMs: 200 },
        retryBackoff: { initialMs: 20, maxMs: 300 },
      });
    },
    lease: { backend: options.backend?.(backend) ?? backend, name: LEASE, timing: TIMING },
    store: env.store,
    log,
    alsoOnLeader: [
      {
        name: 'trust-publishing',
        start: () => {
          publishing.running = true;
          publishing.starts += 1;
          return () => void (publishing.running = false);
        },
      },
    ],
  });
  return { name, elected, created, publishing };
}

/** Waits (bounded) until check() is true, polling every 50 ms. */
async function until(check: () => boolean, withinMs: number, what: string): Promise<void> {
  const end = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function submit(names: string[]): void {
  for (const name of names) env.submit(TOKENS.alice, { name, pem: buildEd25519Csr('alice', ['oncall-payments']).pem });
}

describe('two CSR controllers under one Kubernetes Lease', () => {
  it('only the holder watches and signs; a graceful stop hands over at term 2; every CSR is signed once', async () => {
    const a = startReplica('replica-a');
    const b = startReplica('replica-b');
    let stopped = false;
    try {
      await until(() => a.elected.status().leading || b.elected.status().leading, 10_000, 'a leader');
      const [leader, follower] = a.elected.status().leading ? [a, b] : [b, a];
      expect(leader.elected.status()).toMatchObject({ mode: 'elected', leading: true, term: 1 });
      expect(follower.elected.status()).toMatchObject({ mode: 'elected', leading: false });
      expect(follower.created).toEqual([]);
      expect(follower.elected.current()).toBeUndefined();
      // The leader-only job runs where the controller runs, and only there.
      expect([leader.publishing, follower.publishing]).toEqual([{ running: true, starts: 1 }, { running: false, starts: 0 }]);
      expect(leases.get(NAMESPACE, LEASE)?.spec).toMatchObject({ leaseTransitions: 0 });

      const first = ['before-1', 'before-2', 'before-3', 'before-4'];
      submit(first);
      await Promise.all(first.map((name) => env.waitForCertificate(name, 15_000)));
      expect(leader.elected.current()?.stats().signed).toBe(first.length);
      expect(follower.created).toEqual([]);

      await leader.elected.stop();
      stopped = true;
      expect(leader.elected.current()).toBeUndefined();
      // Released (no holder): the follower takes it at its next retry, not after a whole lease.
      await until(() => follower.elected.current() !== undefined, 10_000, 'the follower takes over');
      expect(follower.elected.status()).toMatchObject({ leading: true, term: 2 });
      expect([leader.publishing, follower.publishing]).toEqual([{ running: false, starts: 1 }, { running: true, starts: 1 }]);
      expect(leases.get(NAMESPACE, LEASE)?.spec).toMatchObject({ leaseTransitions: 1 });

      const second = ['after-1', 'after-2', 'after-3'];
      submit(second);
      await Promise.all(second.map((name) => env.waitForCertificate(name, 15_000)));
      await follower.elected.current()?.idle();
      expect(follower.elected.current()?.stats().signed).toBe(second.length);
      expect(leader.created).toHaveLength(1);
      expect(follower.created).toHaveLength(1);

      // Exactly once, counted by the API server: one certificate write per CSR, none refused.
      for (const name of [...first, ...second]) expect(env.double.stats.certificateWrites.get(name)).toBe(1);
      expect(env.double.stats.certificateOverwritesRefused).toBe(0);

      const records = (await env.store.listAudit({ limit: 1000 })).filter((record) => record.type === 'ha.leader').map((record) => record.data as Record<string, unknown>);
      expect(records.map(({ lease, term, leading, reason }) => ({ lease, term, leading, reason }))).toEqual([
        { lease: LEASE, term: 1, leading: true, reason: 'acquired' },
        { lease: LEASE, term: 1, leading: false, reason: 'released' },
        { lease: LEASE, term: 2, leading: true, reason: 'acquired' },
      ]);
      expect(records[0]?.['jobs']).toEqual(['csr-controller', 'trust-publishing']);
      expect(new Set(records.map((record) => record['holder'])).size).toBe(2);
    } finally {
      if (!stopped) await a.elected.stop();
      await b.elected.stop();
      await a.elected.stop();
    }
  });

  it('a leader paused mid-signing past its Lease: the next leader signs, and the former one, resuming, writes nothing of its own', async () => {
    // The Lease cannot stop a paused leader's late work; the store's claim per CSR does.
    let paused = false;
    let resume: () => void = () => undefined;
    const pausable = (inner: LeaseBackend): LeaseBackend => ({
      ...inner,
      renew: (term, leaseMs) =>
        paused
          ? new Promise<boolean>((resolve) => {
              resume = () => resolve(false);
            })
          : inner.renew(term, leaseMs),
    });
    const gated = gatedSigner(ca.signer);
    const a = startReplica('paused-a', { backend: pausable, signer: gated, claimSeconds: 1 });
    let b: Replica | undefined;
    try {
      await until(() => a.elected.status().leading, 10_000, 'replica a to lead');
      b = startReplica('patient-b');
      env.submit(TOKENS.alice, { name: 'paused-mid-signing', pem: buildEd25519Csr('alice', ['oncall-payments']).pem });
      await until(() => gated.waiting() === 1, 10_000, 'a to start signing');
      const stuck = a.elected.current();
      paused = true; // a renews no more; its signature waits at the gate

      await until(() => b?.elected.current() !== undefined, 15_000, 'b to take the Lease over');
      const taker = b;
      expect(taker.elected.status()).toMatchObject({ leading: true });
      expect(a.elected.status().leading).toBe(false);
      env.double.touch('paused-mid-signing'); // b lists anyway; an event makes it look again after a's claim ran out
      const pem = await env.waitForCertificate('paused-mid-signing', 15_000);
      await taker.elected.current()?.idle();
      expect(taker.elected.current()?.stats()).toMatchObject({ signed: 1, certificatesWritten: 1 });

      gated.release(); // a resumes: its signature completes, its record meets b's
      await until(() => stuck?.stats().certificatesFromStore === 1, 10_000, 'a to give up its own certificate');
      expect(stuck?.stats()).toMatchObject({ signed: 0, certificatesWritten: 0 });
      expect(env.certificateOf('paused-mid-signing')).toBe(pem);
      expect(env.double.stats.certificateWrites.get('paused-mid-signing')).toBe(1);
      const signed = (await env.store.listAudit({ limit: 1000 })).filter((record) => record.type === 'csr.signed' && record.data['csr'] === 'paused-mid-signing');
      expect(signed.map((record) => record.data['instance'])).toEqual(['patient-b/1']);
    } finally {
      gated.release();
      resume();
      await b?.elected.stop();
      await a.elected.stop();
    }
  });
});

/** The HSM CA signer, but each signature waits until release() (a leader paused mid-signing). */
function gatedSigner(inner: Signer): Signer & { release(): void; waiting(): number } {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let waiting = 0;
  return {
    keyId: inner.keyId,
    algorithm: inner.algorithm,
    publicKey: inner.publicKey,
    spki: inner.spki,
    async sign(data, signOptions) {
      waiting += 1;
      await gate;
      return inner.sign(data, signOptions);
    },
    release: () => open(),
    waiting: () => waiting,
  };
}
