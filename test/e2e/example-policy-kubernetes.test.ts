import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.ts';

const root = path.resolve(import.meta.dirname, '../..');
const jitca = path.join(root, 'bin/jitca');
const CONTROLLER_TOKEN = 'token-controller';
const ALICE_TOKEN = 'token-alice';

/**
 * Issue 14: the policy `jitca init` writes had no `kubernetes` block, so every CSR was denied with
 * csr.no-role. Here nothing but `init` writes the policy, and the documented flow works with it.
 */
describe('the policy `jitca init` writes serves the documented Kubernetes flow', () => {
  let dir: string;
  let kube: KubeApiDouble;
  let controller: ChildProcess;
  let controllerLog = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-example-k8s-'));
    execFileSync(jitca, ['--data-dir', dir, 'init']);
    kube = await startKubeApiDouble({
      users: {
        [CONTROLLER_TOKEN]: { username: 'system:serviceaccount:jitca:jitca-csr-controller', groups: ['system:serviceaccounts'] },
        [ALICE_TOKEN]: { username: 'alice', groups: ['oncall-payments', 'system:authenticated'] },
      },
    });
    const kubeconfig = path.join(dir, 'kubeconfig.json');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server: kube.url, 'certificate-authority-data': Buffer.from(kube.caPem).toString('base64') } }],
        users: [{ name: 'jitca', user: { token: CONTROLLER_TOKEN } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'jitca' } }],
        'current-context': 'test',
      }),
    );
    controller = spawn(jitca, ['--data-dir', dir, 'controller', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    controller.stdout?.on('data', (chunk: Buffer) => (controllerLog += chunk.toString()));
    controller.stderr?.on('data', (chunk: Buffer) => (controllerLog += chunk.toString()));
  });
  afterAll(async () => {
    if (controller !== undefined && controller.exitCode === null) {
      await new Promise((resolve) => {
        controller.once('exit', resolve);
        controller.kill('SIGTERM');
      });
    }
    await kube?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function csrPem(subject: string): string {
    const key = path.join(dir, `${subject.replace(/\W/g, '_')}.key`);
    execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', key]);
    return execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject], { encoding: 'utf8' });
  }

  it('writes deploy/policy.example.json as it is, and `policy check` loads it', () => {
    const example = path.join(root, 'deploy/policy.example.json');
    expect(readFileSync(path.join(dir, 'policy.json'))).toEqual(readFileSync(example));
    const checked = spawnSync(jitca, ['policy', 'check', path.join(dir, 'policy.json')], { encoding: 'utf8' });
    expect(checked.status).toBe(0);
    expect(checked.stdout).toMatch(/role oncall-payments;.*kubernetes jit:payments:debug-read-only,/);
  });

  it('approves and signs an on-call engineer’s jitca.dev/debug-client CSR', async () => {
    kube.create(ALICE_TOKEN, {
      name: 'alice-debug',
      requestPem: csrPem('/CN=alice/O=jit:payments:debug-read-only'),
      signerName: 'jitca.dev/debug-client',
      usages: ['client auth', 'digital signature'],
      expirationSeconds: 1800,
    });
    await kube.waitFor(() => (kube.get('alice-debug')?.status?.certificate ?? '') !== '', 20_000, `signed certificate; controller log: ${controllerLog}`);
    const csr = kube.get('alice-debug')!;
    expect(csr.status?.conditions?.find((condition) => condition.type === 'Approved')?.message).toMatch(/csr.allowed: role oncall-payments/);
    const certificate = path.join(dir, 'alice.pem');
    writeFileSync(certificate, Buffer.from(String(csr.status?.certificate), 'base64'));
    const bundle = path.join(dir, 'bundle.pem');
    writeFileSync(bundle, execFileSync(jitca, ['--data-dir', dir, 'bundle', '--format', 'pem']));
    expect(spawnSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', bundle, certificate], { encoding: 'utf8' }).stdout).toMatch(/: OK/);
  });

  it('approves a kube-apiserver-client CSR within the role’s 30 minutes, and denies a group no role grants', async () => {
    kube.create(ALICE_TOKEN, {
      name: 'alice-apiserver-client',
      requestPem: csrPem('/CN=alice/O=jit:payments:debug-read-only'),
      signerName: 'kubernetes.io/kube-apiserver-client',
      usages: ['client auth'],
      expirationSeconds: 1800,
    });
    kube.create(ALICE_TOKEN, {
      name: 'alice-sre',
      requestPem: csrPem('/CN=alice/O=sre'),
      signerName: 'jitca.dev/debug-client',
      usages: ['client auth'],
      expirationSeconds: 1800,
    });
    const decided = (name: string) => (kube.get(name)?.status?.conditions ?? []).length > 0;
    await kube.waitFor(() => decided('alice-apiserver-client') && decided('alice-sre'), 20_000, `decisions; controller log: ${controllerLog}`);
    expect(kube.get('alice-apiserver-client')?.status?.conditions?.[0]).toMatchObject({ type: 'Approved', status: 'True' });
    expect(kube.get('alice-sre')?.status?.conditions?.[0]).toMatchObject({ type: 'Denied' });
    expect(kube.get('alice-sre')?.status?.conditions?.[0]?.message).toMatch(/csr.groups-not-allowed/);
  });
});
