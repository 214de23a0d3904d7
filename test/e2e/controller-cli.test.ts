import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readScopeExtension } from '../../src/x509/scope-extension.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');
const CONTROLLER_TOKEN = 'token-controller';
const ALICE_TOKEN = 'token-alice';

describe('`jitca controller` against a Kubernetes API (double) from the kubeconfig $KUBECONFIG names', () => {
  let dir: string;
  let kube: KubeApiDouble;
  let controller: ChildProcess;
  let controllerLog = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-controller-'));
    writeFileSync(path.join(dir, 'policy.json'), JSON.stringify(testPolicy));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ kubernetes: { clusterName: 'staging-eu' } }));
    execFileSync(jitca, ['--data-dir', dir, '--config', path.join(dir, 'config.json'), 'init']);
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
    // As kubectl would find it: no --kubeconfig, $KUBECONFIG a list whose first file is missing,
    // and a $HOME without ~/.kube/config.
    controller = spawn(jitca, ['--data-dir', dir, '--config', path.join(dir, 'config.json'), 'controller'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: dir, KUBECONFIG: [path.join(dir, 'missing-kubeconfig'), kubeconfig].join(path.delimiter) },
    });
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

  it('approves and signs a CSR for jitca.dev/debug-client that openssl verifies against `jitca bundle --format pem`', async () => {
    kube.create(ALICE_TOKEN, {
      name: 'alice-debug',
      requestPem: csrPem('/CN=alice/O=jit:oncall:payments'),
      signerName: 'jitca.dev/debug-client',
      usages: ['client auth', 'digital signature'],
      expirationSeconds: 1800,
    });
    await kube.waitFor(() => (kube.get('alice-debug')?.status?.certificate ?? '') !== '', 20_000, `signed certificate; controller log: ${controllerLog}`);
    const csr = kube.get('alice-debug')!;
    expect(csr.status?.conditions?.map((condition) => condition.type)).toContain('Approved');
    const certificate = path.join(dir, 'alice.pem');
    writeFileSync(certificate, Buffer.from(String(csr.status?.certificate), 'base64'));
    const bundle = path.join(dir, 'bundle.pem');
    writeFileSync(bundle, execFileSync(jitca, ['--data-dir', dir, 'bundle', '--format', 'pem']));
    const verified = spawnSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', bundle, certificate], { encoding: 'utf8' });
    expect(verified.stdout).toMatch(/: OK/);
    expect(execFileSync('openssl', ['x509', '-in', certificate, '-noout', '-subject'], { encoding: 'utf8' })).toMatch(/O = jit:oncall:payments, CN = alice/);
    // No scope extension (Go's x509 cannot parse its OID: x509/scope-extension.ts); the scope, the
    // configured cluster and the role's only namespace, is in the certificate row with the CSR it came from.
    const der = new Uint8Array(execFileSync('openssl', ['x509', '-in', certificate, '-outform', 'DER']));
    expect(readScopeExtension(der)).toBeUndefined();
    const serial = BigInt(`0x${execFileSync('openssl', ['x509', '-in', certificate, '-noout', '-serial'], { encoding: 'utf8' }).trim().replace('serial=', '')}`).toString();
    const database = new Database(path.join(dir, 'jitca.sqlite'), { readonly: true });
    try {
      const row = database.prepare('select scope from certificates where serial = ?').get(serial) as { scope: string } | undefined;
      expect(JSON.parse(row?.scope ?? '{}')).toMatchObject({
        cluster: 'staging-eu',
        namespace: 'payments',
        kubernetes: { csr: 'alice-debug', uid: String(csr.metadata?.uid) },
      });
    } finally {
      database.close();
    }
  });

  it('denies a CSR for system:masters with the rule in the condition, signing nothing', async () => {
    kube.create(ALICE_TOKEN, {
      name: 'alice-masters',
      requestPem: csrPem('/CN=alice/O=system:masters'),
      signerName: 'jitca.dev/debug-client',
      usages: ['client auth'],
      expirationSeconds: 1800,
    });
    await kube.waitFor(() => (kube.get('alice-masters')?.status?.conditions ?? []).length > 0, 20_000, 'a decision');
    const csr = kube.get('alice-masters')!;
    expect(csr.status?.conditions?.[0]).toMatchObject({ type: 'Denied', status: 'True' });
    expect(csr.status?.conditions?.[0]?.message).toMatch(/csr.system-group/);
    expect(csr.status?.certificate ?? '').toBe('');
  });

  it('audited the policy it decides with: the SHA-256 of the policy file as loaded, and its roles', () => {
    const db = new Database(path.join(dir, 'jitca.sqlite'), { readonly: true });
    try {
      const rows = db.prepare("select actor, data from audit_log where type = 'policy.loaded'").all() as Array<{ actor: string; data: string }>;
      expect(rows).toHaveLength(1);
      expect(JSON.parse(rows[0]!.data)).toEqual({
        sha256: createHash('sha256').update(readFileSync(path.join(dir, 'policy.json'))).digest('hex'),
        file: path.join(dir, 'policy.json'),
        roles: testPolicy.roles.map((role) => role.name),
        process: 'controller',
        reason: 'start',
      });
    } finally {
      db.close();
    }
  });

  it('reloads a saved policy file: the next CSR is decided by it, with policy.loaded audited', async () => {
    const changed = JSON.stringify({ ...testPolicy, roles: testPolicy.roles.map((role) => (role.name === 'oncall-payments' ? { ...role, groups: ['payments-leads'] } : role)) });
    // An editor's save: a new file renamed over the old one, which the watch on the directory sees.
    writeFileSync(path.join(dir, 'policy.json.tmp'), changed);
    renameSync(path.join(dir, 'policy.json.tmp'), path.join(dir, 'policy.json'));
    // The log line is written once the new policy is in force (after its audit record).
    await kube.waitFor(() => controllerLog.includes('policy reloaded'), 20_000, `a reload; controller log: ${controllerLog}`);
    kube.create(ALICE_TOKEN, {
      name: 'alice-after-reload',
      requestPem: csrPem('/CN=alice/O=jit:oncall:payments'),
      signerName: 'jitca.dev/debug-client',
      usages: ['client auth', 'digital signature'],
      expirationSeconds: 1800,
    });
    await kube.waitFor(() => (kube.get('alice-after-reload')?.status?.conditions ?? []).length > 0, 20_000, 'a decision');
    expect(kube.get('alice-after-reload')?.status?.conditions?.[0]).toMatchObject({ type: 'Denied', status: 'True' });
    const db = new Database(path.join(dir, 'jitca.sqlite'), { readonly: true });
    try {
      const rows = db.prepare("select data from audit_log where type = 'policy.loaded' order by seq").all() as Array<{ data: string }>;
      expect(JSON.parse(rows.at(-1)!.data)).toMatchObject({ sha256: createHash('sha256').update(changed).digest('hex'), process: 'controller', reason: 'file-change' });
    } finally {
      db.close();
    }
  });
});
