import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { createOidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { API_AUDIENCE, accounts } from '../support/api-fixture.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';

const KUBECTL = '/usr/bin/kubectl';
const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a real process (kubectl, or the jitca CLI) to completion. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

interface SeenRequest {
  path: string;
  /** The client certificate chained to the client CA (node checked it during the handshake). */
  authorized: boolean;
  /** Decimal, as jitca reports serials. */
  serial: string;
  subject: string;
}

interface KubeApiDouble {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * A loopback stand-in for kube-apiserver's x509 authenticator. Like the real one it asks for a
 * client certificate without failing the handshake (Go's VerifyClientCertIfGiven) and answers 401
 * unless the certificate chains to `clientCa` (--client-ca-file); the user is the CN, groups the
 * O values. It serves discovery and one PodList whose pod echoes who asked. (Failing the TLS 1.3
 * handshake instead looks like a dropped connection to client-go, which retries it for a minute.)
 */
async function startKubeApi(tls: { key: string; cert: string }, clientCa: string): Promise<KubeApiDouble> {
  const seen: SeenRequest[] = [];
  const server = https.createServer({ ...tls, ca: clientCa, requestCert: true, rejectUnauthorized: false }, (request, response) => {
    const socket = request.socket as TLSSocket;
    const peer = socket.getPeerX509Certificate();
    const url = new URL(request.url ?? '/', 'https://kube-api');
    const subject = peer?.subject ?? '';
    const authorized = socket.authorized;
    seen.push({ path: url.pathname, authorized, serial: peer === undefined ? '' : BigInt(`0x${peer.serialNumber}`).toString(), subject });
    if (!authorized) {
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
      return;
    }
    const user = /^CN=(.*)$/m.exec(subject)?.[1] ?? '';
    const groups = [...subject.matchAll(/^O=(.*)$/gm)].map((match) => match[1]);
    const address = server.address() as AddressInfo;
    const replies: Record<string, unknown> = {
      '/version': { major: '1', minor: '32', gitVersion: 'v1.32.4', platform: 'linux/amd64' },
      '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${address.port}` }] },
      '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [] },
      '/api/v1': {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [{ name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] }],
      },
      '/api/v1/namespaces/payments/pods': {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '1' },
        items: [
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'whoami', namespace: 'payments', annotations: { 'jitca.dev/user': user, 'jitca.dev/groups': groups.join(',') } },
            spec: { containers: [{ name: 'app', image: 'registry.example/payments:1' }] },
            status: { phase: 'Running' },
          },
        ],
      },
    };
    const body = replies[url.pathname];
    response.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body ?? { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** openssl makes a self-signed certificate; `ip` adds it as the subjectAltName (a serving cert). */
function selfSigned(dir: string, name: string, ip?: string): { key: string; cert: string; certFile: string } {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.pem`);
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${name}`, '-days', '1'];
  if (ip !== undefined) args.push('-addext', `subjectAltName=IP:${ip}`);
  execFileSync('openssl', args, { stdio: 'ignore' });
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

describe('kubectl -> jitca kube-credential exec plugin -> jitca API -> x509-authenticating apiserver', () => {
  let ca: CaFixture;
  let oidc: OidcTestProvider;
  let app: FastifyInstance;
  let kubeApi: KubeApiDouble;
  let wrongCaApi: KubeApiDouble;
  let work: string;
  let server: string;
  let serving: ReturnType<typeof selfSigned>;

  beforeAll(async () => {
    // The project setup installs kubectl; this test exists to run the real client-go exec code.
    expect(existsSync(KUBECTL), `${KUBECTL} is required for this test`).toBe(true);
    ca = await createCaFixture();
    oidc = await startOidcProvider({ accounts, audience: API_AUDIENCE });
    const verifier = createOidcVerifier({ issuer: oidc.issuer, audience: API_AUDIENCE, jwksUri: oidc.jwksUri });
    app = buildApp(ca.runtime, { authenticator: createApiAuthenticator(verifier, undefined), logger: false });
    server = await app.listen({ host: '127.0.0.1', port: 0 });
    work = mkdtempSync(path.join(tmpdir(), 'jitca-kubectl-'));
    serving = selfSigned(work, 'kube-api', '127.0.0.1');
    kubeApi = await startKubeApi(serving, ca.runtime.kubeCa.certificatePem);
    wrongCaApi = await startKubeApi(serving, selfSigned(work, 'some-other-client-ca').cert);
  });
  afterAll(async () => {
    await kubeApi?.close();
    await wrongCaApi?.close();
    await app?.close();
    await oidc?.close();
    await ca?.cleanup();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  /** An engineer's home: a helper config whose token command prints a real token from the provider. */
  async function engineer(name: keyof typeof accounts): Promise<{ home: string; env: NodeJS.ProcessEnv; token: string; kubeconfig: string }> {
    const home = path.join(work, name);
    mkdirSync(home, { recursive: true });
    const token = await oidc.tokenFor(name);
    const tokenFile = path.join(home, 'token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const clientConfig = path.join(home, 'client.json');
    writeFileSync(clientConfig, JSON.stringify({ server, tokenCommand: ['cat', tokenFile], tokenCache: path.join(home, 'cache', 'token.json') }));
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home };
    const printed = await run(
      jitca,
      ['kubeconfig', '--cluster', 'prod', '--server', kubeApi.url, '--certificate-authority', serving.certFile, '--ttl', '30m', '--client-config', clientConfig, '--namespace', 'payments'],
      env,
    );
    expect(printed.stderr).toBe('');
    expect(printed.status).toBe(0);
    // kubectl runs the plugin without a shell, from any directory: the command is this checkout's launcher.
    expect(printed.stdout).toContain(`command: ${JSON.stringify(jitca)}`);
    const kubeconfig = path.join(home, 'kubeconfig');
    writeFileSync(kubeconfig, printed.stdout);
    return { home, env: { ...env, KUBECONFIG: kubeconfig }, token, kubeconfig };
  }

  const kubectl = (env: NodeJS.ProcessEnv, ...args: string[]) => run(KUBECTL, [...args, '--cache-dir', path.join(env['HOME'] ?? work, 'kube-cache')], env);

  it('kubectl gets the pods as the identity with its policy groups, then reuses the cached certificate', async () => {
    const alice = await engineer('alice');
    const first = await kubectl(alice.env, 'get', 'pods', '-o', 'json');
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(kubeApi.seen.every((request) => request.authorized)).toBe(true);
    const pods = JSON.parse(first.stdout) as { items: Array<{ metadata: { name: string; annotations: Record<string, string> } }> };
    expect(pods.items[0]?.metadata.annotations).toEqual({ 'jitca.dev/user': 'alice', 'jitca.dev/groups': 'jit:oncall:payments' });

    const cacheFile = path.join(alice.home, 'cache', 'kube', 'prod.json');
    expect(statSync(cacheFile).mode & 0o777).toBe(0o600);
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { serial: string };
    const firstSerials = new Set(kubeApi.seen.map((request) => request.serial));
    expect(firstSerials).toEqual(new Set([cached.serial]));
    expect(kubeApi.seen.some((request) => request.path === '/api/v1/namespaces/payments/pods')).toBe(true);
    const stored = await ca.runtime.store.findCertificateBySerial(cached.serial);
    expect(stored).toMatchObject({ kind: 'x509-client', identity: 'alice' });
    // Asked 30m, the role allows 1800 s: the apiserver sees a certificate that ends ~30m from now.
    expect(Date.parse(stored?.validBefore ?? '') - Date.now()).toBeGreaterThan(29 * 60_000);

    // A second kubectl is a new process: client-go's in-memory cache is gone, jitca's file is not.
    const seenBefore = kubeApi.seen.length;
    const second = await kubectl(alice.env, 'get', 'pods', '-o', 'jsonpath={.items[0].metadata.annotations.jitca\\.dev/user}');
    expect(second.stderr).toBe('');
    expect(second.stdout).toBe('alice');
    const secondSerials = new Set(kubeApi.seen.slice(seenBefore).map((request) => request.serial));
    expect(secondSerials).toEqual(new Set([cached.serial]));
    expect((JSON.parse(readFileSync(cacheFile, 'utf8')) as { serial: string }).serial).toBe(cached.serial);
  });

  it('kubectl loads a namespaced certificate from POST /v1/x509/certificates (Go parses every extension jitca writes)', async () => {
    // Go's crypto/x509 refuses a whole certificate over one OID arc beyond 31 bits; the scope
    // extension's 2.25.<UUID> OID made every namespaced credential unusable in kubectl.
    const dir = path.join(work, 'namespaced');
    mkdirSync(dir, { recursive: true });
    const key = path.join(dir, 'alice.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    const csr = execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=alice'], { encoding: 'utf8' });
    const issued = await app.inject({
      method: 'POST',
      url: '/v1/x509/certificates',
      headers: { authorization: `Bearer ${await oidc.tokenFor('alice')}` },
      payload: { csr, scope: { cluster: 'prod', namespace: 'payments' } },
    });
    expect(issued.statusCode).toBe(201);
    const certificate = path.join(dir, 'alice.pem');
    writeFileSync(certificate, issued.json().certificate);
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'prod', cluster: { server: kubeApi.url, 'certificate-authority': serving.certFile } }],
        users: [{ name: 'alice', user: { 'client-certificate': certificate, 'client-key': key } }],
        contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'alice', namespace: 'payments' } }],
        'current-context': 'prod',
      }),
    );
    const listed = await kubectl({ PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: kubeconfig }, 'get', 'pods', '-o', 'name');
    expect(listed.stderr).toBe('');
    expect(listed.stdout.trim()).toBe('pod/whoami');
  });

  it('kubectl is refused by an apiserver whose client CA is not jitca', async () => {
    const alice = await engineer('alice');
    const result = await kubectl(alice.env, '--server', wrongCaApi.url, 'get', 'pods', '-o', 'json');
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/You must be logged in to the server/);
    // kubectl did present alice's jitca certificate; this apiserver just does not trust its issuer.
    const cached = JSON.parse(readFileSync(path.join(alice.home, 'cache', 'kube', 'prod.json'), 'utf8')) as { serial: string };
    expect(wrongCaApi.seen.length).toBeGreaterThan(0);
    expect(wrongCaApi.seen.every((request) => !request.authorized && request.serial === cached.serial)).toBe(true);
  });

  it('kubectl accepts the v1beta1 answer when the kubeconfig asks for v1beta1', async () => {
    const alice = await engineer('alice');
    const kubeconfig = readFileSync(alice.kubeconfig, 'utf8').replace('client.authentication.k8s.io/v1"', 'client.authentication.k8s.io/v1beta1"');
    expect(kubeconfig).toMatch(/v1beta1/);
    writeFileSync(alice.kubeconfig, kubeconfig);
    const result = await kubectl(alice.env, 'get', 'pods', '-o', 'jsonpath={.items[0].metadata.annotations.jitca\\.dev/groups}');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('jit:oncall:payments');
  });

  it("shows the plugin's refusal through kubectl, without the token", async () => {
    const mallory = await engineer('mallory');
    const result = await kubectl(mallory.env, 'get', 'pods', '-o', 'json');
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/jitca: ERR_POLICY_DENIED: /);
    expect(result.stderr).not.toContain(mallory.token);
    expect(existsSync(path.join(mallory.home, 'cache', 'kube'))).toBe(false);
  });

  it('answers the apiVersion kubectl asks, and refuses a malformed KUBERNETES_EXEC_INFO with nothing on stdout', async () => {
    const alice = await engineer('alice');
    const args = ['kube-credential', '--cluster', 'prod', '--ttl', '30m', '--client-config', path.join(alice.home, 'client.json')];
    const asked = JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1beta1', spec: { interactive: false } });
    const answer = await run(jitca, args, { ...alice.env, KUBERNETES_EXEC_INFO: asked });
    expect(answer.status).toBe(0);
    const credential = JSON.parse(answer.stdout) as { apiVersion: string; kind: string; status: Record<string, string> };
    expect(credential.apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    expect(credential.kind).toBe('ExecCredential');
    expect(credential.status['clientKeyData']).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(credential.status['clientCertificateData']).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(credential.status['expirationTimestamp']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    const refused = await run(jitca, args, { ...alice.env, KUBERNETES_EXEC_INFO: '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1"}' });
    expect(refused.status).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: KUBERNETES_EXEC_INFO apiVersion/);
  });
});
