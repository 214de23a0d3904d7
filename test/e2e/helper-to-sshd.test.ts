import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { createOidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { API_AUDIENCE, accounts } from '../support/api-fixture.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { CLI_CLIENT_ID, startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';
import { startSshd, type SshdHandle } from '../support/sshd.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

interface Run {
  status: number | null;
  stderr: string;
}

/** Runs the real `jitca` CLI; `onStderr` sees its progress lines as they come. */
function runCli(args: string[], env: NodeJS.ProcessEnv, onStderr?: (text: string) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(jitca, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

describe('engineer helper -> OIDC -> API -> HSM -> real sshd', () => {
  let ca: CaFixture;
  let oidc: OidcTestProvider;
  let app: FastifyInstance;
  let sshd: SshdHandle;
  let home: string;
  let server: string;

  beforeAll(async () => {
    ca = await createCaFixture();
    oidc = await startOidcProvider({ accounts, audience: API_AUDIENCE });
    const verifier = createOidcVerifier({ issuer: oidc.issuer, audience: API_AUDIENCE, jwksUri: oidc.jwksUri });
    app = buildApp(ca.runtime, { authenticator: createApiAuthenticator(verifier, undefined), logger: false });
    server = await app.listen({ host: '127.0.0.1', port: 0 });
    sshd = await startSshd();
    sshd.setTrustedCaKeys((await app.inject({ url: '/v1/trust/ssh-user-ca' })).body);
    sshd.setPrincipals(sshd.user, ['oncall-payments', 'root-debug']);
    home = mkdtempSync(path.join(tmpdir(), 'jitca-home-'));
  });
  afterAll(async () => {
    await app?.close();
    await sshd?.stop();
    await oidc?.close();
    await ca?.cleanup();
    rmSync(home, { recursive: true, force: true });
  });

  /** Each engineer has their own helper config and token cache. */
  function engineer(name: string): { env: NodeJS.ProcessEnv; config: string; key: string } {
    const dir = path.join(home, name);
    execFileSync('mkdir', ['-p', dir]);
    const config = path.join(dir, 'client.json');
    writeFileSync(
      config,
      JSON.stringify({ server, oidc: { issuer: oidc.issuer, clientId: CLI_CLIENT_ID, audience: API_AUDIENCE }, tokenCache: path.join(dir, 'cache', 'token.json') }),
    );
    return { env: { JITCA_CLIENT_CONFIG: config, HOME: dir }, config, key: path.join(dir, 'id_ed25519') };
  }

  async function login(name: string): Promise<void> {
    const { env } = engineer(name);
    let approved = false;
    const result = await runCli(['login'], env, (stderr) => {
      const match = /confirm the code (\S+)/.exec(stderr);
      if (match !== null && !approved) {
        approved = true;
        // The engineer's browser: the provider's real device pages, logging in as `name`.
        void oidc.deviceFlow.approve(match[1]!, name);
      }
    });
    expect(result.stderr).toMatch(/logged in/);
    expect(result.status).toBe(0);
    const cache = path.join(home, name, 'cache', 'token.json');
    expect(statSync(cache).mode & 0o777).toBe(0o600);
    expect(readFileSync(cache, 'utf8')).not.toMatch(/device_code/);
  }

  it('logs in with the device flow, gets a certificate with ssh-cert, and sshd accepts it', async () => {
    await login('alice');
    const alice = engineer('alice');
    const result = await runCli(
      ['ssh-cert', '--role', 'oncall-payments', '--ttl', '10m', '--cluster', 'prod', '--namespace', 'payments', '--reason', 'INC-1', '--key', alice.key],
      alice.env,
    );
    expect(result.stderr).toMatch(/wrote .*id_ed25519-cert\.pub/);
    expect(result.status).toBe(0);
    const session = sshd.login({ key: alice.key, certificate: `${alice.key}-cert.pub` });
    expect(session.stdout.trim()).toBe('jitca-login-ok');
  });

  it('waits on a manual-approval role, refuses self-approval, and works after two approvers', async () => {
    await login('dave');
    const dave = engineer('dave');
    const approve = (token: string, id: string) =>
      app.inject({ method: 'POST', url: `/v1/requests/${id}/approve`, headers: { authorization: `Bearer ${token}` }, payload: { reason: 'seen' } });
    const daveToken = await oidc.tokenFor('dave');
    const [bob, carol] = await Promise.all([oidc.tokenFor('bob'), oidc.tokenFor('carol')]);
    let approvals: Promise<void> | undefined;
    const result = await runCli(['ssh-cert', '--role', 'break-glass', '--ttl', '5m', '--cluster', 'prod', '--namespace', 'payments', '--reason', 'prod down', '--key', dave.key], dave.env, (stderr) => {
      const match = /request (req_[0-9a-f]{32}) needs approval/.exec(stderr);
      if (match !== null && approvals === undefined) {
        const id = match[1]!;
        approvals = (async () => {
          const self = await approve(daveToken, id);
          expect(self.json().details.rule).toBe('approval.self');
          expect((await approve(bob, id)).statusCode).toBe(200);
          expect((await approve(carol, id)).statusCode).toBe(201);
        })();
      }
    });
    await approvals;
    expect(result.stderr).toMatch(/needs approval \(2 approval\(s\) from sre-leads\)/);
    expect(result.status).toBe(0);
    const session = sshd.login({ key: dave.key, certificate: `${dave.key}-cert.pub` });
    expect(session.stdout.trim()).toBe('jitca-login-ok');
  });
});
