/**
 * Two real `jitca controller --leader-elect kubernetes-lease` processes on one store, against the
 * Kubernetes API double serving Leases: one holds the Lease and signs; SIGSTOPped past its lease it
 * is replaced, and after SIGCONT it stops leading; SIGTERM hands the Lease over (released, so the
 * other takes it at its next retry). Each CSR gets exactly one certificate write.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPolicy } from '../support/ca-fixture.ts';
import { runJitca } from '../support/jitca-cli.ts';
import { freePort } from '../support/sshd.ts';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.ts';
import { buildEd25519Csr } from '../support/kube-der.ts';
import { createLeasesDouble, type LeasesDouble } from '../support/kube-leases.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');
const CONTROLLER_TOKEN = 'token-controller';
const ALICE_TOKEN = 'token-alice';
const LEASE = 'jitca-csr-controller';

interface Replica {
  child: ChildProcess;
  log: string;
  metricsPort: number;
}

/** The replica's own /metrics: its jitca_leader and jitca_leader_term lines (waiting, bounded, for its listener). */
async function leadershipOf(replica: Replica): Promise<{ leader: number; term: number }> {
  let text: string | undefined;
  for (let attempt = 0; text === undefined; attempt++) {
    text = await fetch(`http://127.0.0.1:${replica.metricsPort}/metrics`).then((response) => response.text(), () => undefined);
    if (text === undefined && attempt >= 600) throw new Error(`no /metrics on ${replica.metricsPort}: ${replica.log}`);
    if (text === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { leader: Number(/^jitca_leader\{mode="elected"\} (\d)$/m.exec(text)?.[1]), term: Number(/^jitca_leader_term (\d+)$/m.exec(text)?.[1]) };
}

describe('`jitca controller --leader-elect kubernetes-lease`, two processes', () => {
  let dir: string;
  let kube: KubeApiDouble;
  let leases: LeasesDouble;
  const replicas: Replica[] = [];

  async function startReplica(): Promise<Replica> {
    const metricsPort = await freePort();
    const child = spawn(
      jitca,
      ['--data-dir', dir, '--config', path.join(dir, 'config.json'), 'controller', '--kubeconfig', path.join(dir, 'kubeconfig.json'), '--leader-elect', 'kubernetes-lease', '--metrics-port', String(metricsPort)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const replica: Replica = { child, log: '', metricsPort };
    child.stdout?.on('data', (chunk: Buffer) => (replica.log += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (replica.log += chunk.toString()));
    replicas.push(replica);
    return replica;
  }

  const holder = (): string => leases.get('jitca', LEASE)?.spec.holderIdentity ?? '';
  const holdsLease = (replica: Replica): boolean => holder().split(':')[1] === String(replica.child.pid);
  const logs = (): string => replicas.map((replica) => replica.log).join('\n---\n');

  function submit(name: string): void {
    kube.create(ALICE_TOKEN, {
      name,
      requestPem: buildEd25519Csr('alice', ['jit:oncall:payments']).pem,
      signerName: 'jitca.dev/debug-client',
      usages: ['client auth', 'digital signature'],
      expirationSeconds: 1800,
    });
  }
  const signed = (name: string): boolean => (kube.get(name)?.status?.certificate ?? '') !== '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-controller-ha-'));
    writeFileSync(path.join(dir, 'policy.json'), JSON.stringify(testPolicy));
    writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ store: { leaderLeaseMs: 4000, leaderRenewDeadlineMs: 3000, leaderRetryMs: 250 }, server: { logLevel: 'info' } }),
    );
    execFileSync(jitca, ['--data-dir', dir, '--config', path.join(dir, 'config.json'), 'init']);
    leases = createLeasesDouble();
    kube = await startKubeApiDouble({
      users: {
        [CONTROLLER_TOKEN]: { username: 'system:serviceaccount:jitca:jitca-csr-controller', groups: ['system:serviceaccounts'] },
        [ALICE_TOKEN]: { username: 'alice', groups: ['oncall-payments', 'system:authenticated'] },
      },
      leases,
    });
    writeFileSync(
      path.join(dir, 'kubeconfig.json'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server: kube.url, 'certificate-authority-data': Buffer.from(kube.caPem).toString('base64') } }],
        users: [{ name: 'jitca', user: { token: CONTROLLER_TOKEN } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'jitca' } }],
        'current-context': 'test',
      }),
    );
  });
  afterAll(async () => {
    for (const { child } of replicas) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      await new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGKILL');
      });
    }
    await kube?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one holds the Lease and signs; SIGSTOPped past its lease it is replaced and, resumed, steps down; SIGTERM releases the Lease to the other at once; each CSR written once', async () => {
    // One after another: the embedded SoftHSM2 file token is read at each start.
    const first = await startReplica();
    await kube.waitFor(() => holdsLease(first), 60_000, `the first replica to hold the Lease (holder "${holder()}", pid ${first.child.pid}); logs: ${logs()}`);
    const second = await startReplica();
    submit('first-leads');
    await kube.waitFor(() => signed('first-leads'), 60_000, `a certificate; logs: ${logs()}`);
    // The second replica is up (it tries the Lease every retry) but holds nothing.
    expect(second.child.exitCode).toBeNull();
    expect(holdsLease(first)).toBe(true);
    expect(leases.get('jitca', LEASE)?.spec.leaseTransitions).toBe(0);
    // Each process reports its own leadership on /metrics: the holder at term 1, the other following.
    expect(await leadershipOf(first)).toEqual({ leader: 1, term: 1 });
    expect(await leadershipOf(second)).toEqual({ leader: 0, term: 0 });

    // Paused: it renews nothing, and the second replica takes over once it has seen one version for a lease.
    first.child.kill('SIGSTOP');
    await kube.waitFor(() => holdsLease(second), 60_000, `the second replica to take over from the paused one; logs: ${logs()}`);
    expect(leases.get('jitca', LEASE)?.spec.leaseTransitions).toBe(1);
    expect(await leadershipOf(second)).toEqual({ leader: 1, term: 2 });
    submit('first-paused');
    await kube.waitFor(() => signed('first-paused'), 60_000, `a certificate from the second replica; logs: ${logs()}`);

    // Resumed: its renew deadline has passed (or its renewal meets a 409); it stops leading and the Lease stays the second's.
    first.child.kill('SIGCONT');
    await kube.waitFor(() => first.log.includes('no longer leading'), 60_000, `the resumed replica to stop leading; logs: ${logs()}`);
    expect(holdsLease(second)).toBe(true);
    submit('first-resumed');
    await kube.waitFor(() => signed('first-resumed'), 60_000, `a certificate after the resume; logs: ${logs()}`);

    const exited = new Promise((resolve) => second.child.once('exit', resolve));
    second.child.kill('SIGTERM');
    await exited;
    // Released on the way out (no holder), unless the first replica already took it back.
    expect(holder() === '' || holdsLease(first)).toBe(true);
    await kube.waitFor(() => holdsLease(first), 60_000, `the first replica to take the released Lease; logs: ${logs()}`);
    expect(leases.get('jitca', LEASE)?.spec.leaseTransitions).toBe(2);
    submit('second-stopped');
    await kube.waitFor(() => signed('second-stopped'), 60_000, `a certificate from the first replica again; logs: ${logs()}`);

    for (const name of ['first-leads', 'first-paused', 'first-resumed', 'second-stopped']) expect(kube.stats.certificateWrites.get(name), name).toBe(1);
    expect(kube.stats.certificateOverwritesRefused).toBe(0);
  }, 300_000);

  it('refuses an unknown --leader-elect, and postgres without store.postgresUrl, with ERR_CONFIG_INVALID before opening anything', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'jitca-controller-refused-'));
    try {
      writeFileSync(path.join(empty, 'config.json'), '{}');
      const run = (backend: string) =>
        runJitca(['--data-dir', path.join(empty, 'data'), '--config', path.join(empty, 'config.json'), 'controller', '--kubeconfig', path.join(dir, 'kubeconfig.json'), '--leader-elect', backend]);
      const [unknown, postgres, port] = await Promise.all([
        run('zookeeper'),
        run('postgres'),
        runJitca(['--data-dir', path.join(empty, 'data'), '--config', path.join(empty, 'config.json'), 'controller', '--kubeconfig', path.join(dir, 'kubeconfig.json'), '--metrics-port', 'http']),
      ]);
      expect([port.status, port.stderr]).toEqual([2, expect.stringContaining('ERR_CONFIG_INVALID: --metrics-port must be a port number')]);
      expect(unknown.status).toBe(2);
      expect(unknown.stderr).toContain('ERR_CONFIG_INVALID: --leader-elect must be one of none, kubernetes-lease, postgres');
      expect(postgres.status).toBe(2);
      expect(postgres.stderr).toContain('ERR_CONFIG_INVALID: --leader-elect postgres needs store.postgresUrl');
      expect(readdirSync(empty)).toEqual(['config.json']); // no data directory, token or store
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }, 60_000);
});
