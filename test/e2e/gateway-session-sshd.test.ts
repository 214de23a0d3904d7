/**
 * `jitca gateway session` end to end: a real sshd whose AuthorizedPrincipalsCommand is `jitca
 * gateway principals` (as `nobody`, storing the certificate it admitted by serial) forces `jitca
 * gateway session`, which gets the engineer's Kubernetes credential from a real jitca API (POST
 * /v1/gateway/kube-credentials, as the gateway) and runs the real kubectl against a small TLS
 * stand-in for the Kubernetes API that verifies the client certificate against jitca's Kubernetes
 * CA and serves one pod and its log. Root only (sshd's hooks must be root-owned, under /run).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/ssh/certificate.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { makeServingCertificate } from '../support/kube-tls.ts';
import { readOnlyCompileCache } from '../support/compile-cache.ts';
import { startSshd, type SshdHandle } from '../support/sshd.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const JITCA = path.resolve(import.meta.dirname, '../../bin/jitca');
const isRoot = process.getuid?.() === 0;
const READ = 'jit:payments:debug-read-only';
const policy = {
  version: 1,
  extensionDomain: 'jitca.dev',
  revokerGroups: ['sre-leads'],
  roles: [
    {
      name: 'oncall-payments',
      groups: ['oncall-payments'],
      principals: ['oncall-payments'],
      maxTtlSeconds: 1800,
      scope: { clusters: ['prod'], namespaces: ['payments'], pods: ['*'] },
      commands: ['kubectl logs'],
      extensions: ['permit-pty'],
      approval: { mode: 'auto' },
      operations: [{ name: 'view-logs', approval: { mode: 'auto' }, maxTtlSeconds: 1800, kubernetesGroups: [READ] }],
      allowGateway: true,
      kubernetes: { groups: [READ], maxExpirationSeconds: 1800 },
    },
  ],
};

interface KubeCall {
  path: string;
  subject: string;
}

/** The few endpoints `kubectl logs POD` calls, answered only to a client certificate from jitca's Kubernetes CA. */
function startKubeStandIn(clientCaPem: string): Promise<{ url: string; caPem: string; calls: KubeCall[]; close(): void }> {
  const serving = makeServingCertificate();
  const calls: KubeCall[] = [];
  const pod = { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'api-0', namespace: 'payments' }, spec: { containers: [{ name: 'app', image: 'app' }] } };
  const server = https.createServer({ cert: serving.certPem, key: serving.keyPem, ca: clientCaPem, requestCert: true, rejectUnauthorized: true }, (request, response) => {
    const url = new URL(request.url ?? '/', 'https://stand-in');
    const peer = (request.socket as TLSSocket).getPeerCertificate();
    calls.push({ path: url.pathname, subject: `CN=${String(peer.subject?.CN)} O=${String(peer.subject?.O)}` });
    const json = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === '/api') return json(200, { kind: 'APIVersions', versions: ['v1'] });
    if (url.pathname === '/apis') return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (url.pathname === '/api/v1') {
      return json(200, { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] }, { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] }] });
    }
    if (url.pathname === '/api/v1/namespaces/payments/pods/api-0') return json(200, pod);
    if (url.pathname === '/api/v1/namespaces/payments/pods/api-0/log') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('log line from api-0\n');
      // A followed log stays open, as a real one does, until the client goes.
      if (url.searchParams.get('follow') === 'true') return;
      return response.end();
    }
    return json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({ url: `https://127.0.0.1:${port}`, caPem: serving.certPem, calls, close: () => server.close() });
      server.unref();
    });
  });
}

describe.skipIf(!isRoot)('jitca gateway session behind a real sshd: kubectl with the CA-issued credential, cut at expiry and on revocation', () => {
  let offsetMs = 0;
  const clock = { now: () => Date.now() - offsetMs };
  let api: ApiFixture;
  let apiUrl: string;
  let kube: Awaited<ReturnType<typeof startKubeStandIn>>;
  let hooks: string;
  let krlFile: string;
  let recordings: string;
  let sshd: SshdHandle;
  let key: TempSshKey;

  beforeAll(async () => {
    api = await createApiFixture({ policy, issuanceClock: clock });
    apiUrl = await api.app.listen({ port: 0, host: '127.0.0.1' });
    kube = await startKubeStandIn(api.ca.runtime.kubeCa.certificatePem);
    key = createTempSshKey('jitca-gateway-session-');
    hooks = mkdtempSync('/run/jitca-gateway-session-');
    chmodSync(hooks, 0o755);
    const trusted = (await api.app.inject({ method: 'GET', url: '/v1/trust/ssh-user-ca' })).body;
    const caFile = path.join(hooks, 'trusted_user_ca_keys');
    writeFileSync(caFile, trusted, { mode: 0o644 });
    krlFile = path.join(hooks, 'revoked_keys');
    writeFileSync(krlFile, '', { mode: 0o644 });
    const certificates = path.join(hooks, 'certificates');
    mkdirSync(certificates, { mode: 0o755 });
    const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    chownSync(certificates, nobody, nobody);
    const tokenFile = path.join(hooks, 'gateway-token');
    writeFileSync(tokenFile, api.gatewayToken, { mode: 0o600 });
    const kubeCaFile = path.join(hooks, 'kube-ca.pem');
    writeFileSync(kubeCaFile, kube.caPem, { mode: 0o644 });
    recordings = path.join(hooks, 'recordings');
    mkdirSync(recordings, { mode: 0o700 });
    const session = path.join(hooks, 'session');
    writeFileSync(
      session,
      [
        '#!/bin/sh',
        `exec ${JITCA} gateway session --certificate-dir ${certificates} --revoked-keys ${krlFile} --extension-domain jitca.dev ` +
          `--api ${apiUrl} --gateway-token-file ${tokenFile} --kube-server ${kube.url} --kube-ca-file ${kubeCaFile} --revocation-poll-seconds 1 --recordings-dir ${recordings} "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const compileCache = readOnlyCompileCache(hooks, 'nobody', [['gateway', 'principals', '--help'], ['gateway', 'session', '--help']]);
    const principals = path.join(hooks, 'principals');
    writeFileSync(
      principals,
      [
        '#!/bin/sh',
        `export NODE_COMPILE_CACHE=${compileCache}`,
        `exec ${JITCA} gateway principals --trusted-ca-keys ${caFile} --revoked-keys ${krlFile} --allow root=oncall-payments ` +
          `--extension-domain jitca.dev --session-command ${session} --certificate-dir ${certificates} "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    sshd = await startSshd({ principalsCommand: { command: `${principals} %u %i %s %F %k`, user: 'nobody' } });
    sshd.setTrustedCaKeys(trusted);
  }, 60_000);

  afterAll(async () => {
    await sshd?.stop();
    kube?.close();
    await api?.close();
    key?.cleanup();
    if (hooks !== undefined) rmSync(hooks, { recursive: true, force: true });
  });

  async function certificateFile(name: string, ttl: string): Promise<{ file: string; serial: string }> {
    const response = await api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: { authorization: `Bearer ${api.tokens.alice}` },
      payload: { publicKey: key.publicKey, scope: { cluster: 'prod', namespace: 'payments', pod: 'api-0' }, operations: ['view-logs'], ttl, reason: 'INC-18' },
    });
    expect(response.statusCode, response.body).toBe(201);
    const file = path.join(key.dir, `${name}-cert.pub`);
    writeFileSync(file, `${response.json().certificate}\n`);
    return { file, serial: parseCertificate(response.json().certificate).serial.toString() };
  }

  /** ssh without blocking this process: the API and the Kubernetes stand-in answer from it. */
  function login(certificate: string, command: string, onOutput?: (stdout: string) => void): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn('ssh', [
        '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', `CertificateFile=${certificate}`, '-i', key.keyPath,
        '-p', String(sshd.port), `${sshd.user}@127.0.0.1`, command,
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        onOutput?.(stdout);
      });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      // Bounded: a session the gateway failed to cut is killed here and the test fails on its status.
      const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', (status) => {
        clearTimeout(guard);
        resolve({ status, stdout, stderr });
      });
    });
  }

  it("runs an allowed kubectl command with the engineer's CA-issued credential, in the certificate's namespace and pod; refuses the rest", async () => {
    const { file, serial } = await certificateFile('logs', '10m');
    const before = kube.calls.length;
    const logs = await login(file, 'kubectl logs api-0');
    expect(logs.stderr).toBe('');
    expect(logs.stdout).toBe('log line from api-0\n');
    expect(logs.status).toBe(0);
    const calls = kube.calls.slice(before);
    expect(calls.map((call) => call.path)).toContain('/api/v1/namespaces/payments/pods/api-0/log');
    expect(new Set(calls.map((call) => call.subject))).toEqual(new Set([`CN=alice O=${READ}`]));

    // The recording holds what the person saw, its hash is in the audit log, and replay prints it.
    const [recording, ...others] = readdirSync(recordings).filter((name) => name.startsWith(`${serial}-`));
    expect(others).toEqual([]);
    const bytes = readFileSync(path.join(recordings, recording!));
    const audit = (await api.ca.runtime.store.listAudit({ limit: 1000 })).filter((record) => record.data['sshSerial'] === serial && record.type.startsWith('gateway.session.'));
    expect(audit.map((record) => record.type)).toEqual(['gateway.session.started', 'gateway.session.ended']);
    expect(audit[1]?.data).toMatchObject({
      command: 'kubectl --namespace payments logs api-0',
      end: { reason: 'exited', exitCode: 0 },
      recording: { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, truncated: false },
    });
    expect(audit[1]).toMatchObject({ subject: 'alice', actor: 'jitca-ssh-gateway' });
    expect(execFileSync(JITCA, ['gateway', 'replay', path.join(recordings, recording!)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe('log line from api-0\n');

    const outside = await login(file, 'kubectl logs api-1');
    expect(outside.status).not.toBe(0);
    expect(outside.stderr).toContain('ERR_GATEWAY_REFUSED');
    expect(kube.calls.slice(before).filter((call) => call.path.includes('api-1'))).toEqual([]);
  }, 60_000);

  it('refuses a command outside the list, another namespace, a shell trick and scp before anything reaches Kubernetes', async () => {
    const { file } = await certificateFile('refusals', '10m');
    const before = kube.calls.length;
    const refusals: Array<[string, string]> = [
      ['sh -c id', 'not-allowed'],
      ['kubectl get secrets', 'not-allowed'],
      ['kubectl logs api-0 -n kube-system', 'target-flag'],
      ['kubectl logs api-0;cat /etc/shadow', 'characters'],
      ['kubectl logs $(id)', 'characters'],
    ];
    const results = await Promise.all(refusals.map(([command]) => login(file, command)));
    results.forEach((result, i) => {
      expect(result.status, refusals[i]![0]).not.toBe(0);
      expect(result.stderr, refusals[i]![0]).toContain(`ERR_GATEWAY_REFUSED`);
      expect(result.stderr, refusals[i]![0]).toContain(refusals[i]![1]);
    });
    // scp runs `scp -t` on the server: the forced session gets it as the command, and refuses it.
    const copied = spawnSync('scp', ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', `CertificateFile=${file}`, '-i', key.keyPath, '-P', String(sshd.port), file, `${sshd.user}@127.0.0.1:/tmp/jitca-scp-${process.pid}`], { encoding: 'utf8', timeout: 20_000 });
    expect(copied.status).not.toBe(0);
    expect(existsSync(`/tmp/jitca-scp-${process.pid}`)).toBe(false);
    expect(kube.calls.slice(before)).toEqual([]);
  }, 60_000);

  it("cuts an open session at the certificate's expiry", async () => {
    // Issued "40 s ago" with the shortest lifetime a role allows (60 s): about 20 s left, room for
    // a login on a loaded machine (two jitca starts, one API call, kubectl) before the cut.
    offsetMs = 40_000;
    const { file } = await certificateFile('short', '1m');
    offsetMs = 0;
    const followed = await login(file, 'kubectl logs --follow api-0');
    expect(followed.stdout, followed.stderr).toContain('log line from api-0');
    expect(followed.stderr).toContain('the certificate expired');
    expect(followed.status).toBe(1);
  }, 60_000);

  it('cuts an open session once the certificate is revoked', async () => {
    const { file, serial } = await certificateFile('revoked', '10m');
    let revoking: Promise<void> | undefined;
    const followed = await login(file, 'kubectl logs --follow api-0', (stdout) => {
      if (revoking !== undefined || !stdout.includes('log line')) return;
      revoking = (async () => {
        const revoked = await api.app.inject({ method: 'POST', url: `/v1/ssh/certificates/${serial}/revoke`, headers: { authorization: `Bearer ${api.tokens.alice}` }, payload: { reason: 'laptop lost' } });
        expect(revoked.statusCode).toBe(200);
        // What trust-sync would write: the KRL the API publishes.
        const krl = await api.app.inject({ method: 'GET', url: '/v1/trust/ssh-krl' });
        writeFileSync(krlFile, krl.rawPayload);
      })();
    });
    await revoking;
    expect(followed.stderr).toContain('the certificate was revoked');
    expect(followed.status).toBe(1);
    writeFileSync(krlFile, '');
  }, 60_000);
});
