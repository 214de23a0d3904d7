/**
 * `jitca ssh-cert --pkcs11 MODULE` and `--from-agent`: a key whose private half the helper never
 * reads gets a certificate, and a real sshd accepts it with the private key in a real PKCS#11
 * token (SoftHSM2 standing in for a YubiKey's PIV applet: the same PKCS#11 path ssh -I takes) or
 * in a real ssh-agent.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { createOidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { parseCertificate } from '../../src/ssh/certificate.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { API_AUDIENCE, accounts } from '../support/api-fixture.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';
import { startSshd, type SshdHandle } from '../support/sshd.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');
const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const PIN = '246810';

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(jitca, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

describe('ssh-cert for a key in a PKCS#11 token or ssh-agent -> real sshd', () => {
  let ca: CaFixture;
  let oidc: OidcTestProvider;
  let app: FastifyInstance;
  let sshd: SshdHandle;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let tokenEnv: NodeJS.ProcessEnv;
  let agent: { socket: string; pid: string } | undefined;

  beforeAll(async () => {
    ca = await createCaFixture();
    oidc = await startOidcProvider({ accounts, audience: API_AUDIENCE });
    const verifier = createOidcVerifier({ issuer: oidc.issuer, audience: API_AUDIENCE, jwksUri: oidc.jwksUri });
    app = buildApp(ca.runtime, { authenticator: createApiAuthenticator(verifier, undefined), logger: false });
    const server = await app.listen({ host: '127.0.0.1', port: 0 });
    sshd = await startSshd();
    sshd.setTrustedCaKeys((await app.inject({ url: '/v1/trust/ssh-user-ca' })).body);
    sshd.setPrincipals(sshd.user, ['oncall-payments']);

    home = mkdtempSync(path.join(tmpdir(), 'jitca-hwkey-'));
    // The engineer's token: a separate SoftHSM2 configuration, so the CA's own token is untouched.
    const tokens = path.join(home, 'tokens');
    mkdirSync(tokens);
    writeFileSync(path.join(home, 'softhsm2.conf'), `directories.tokendir = ${tokens}\nobjectstore.backend = file\n`);
    tokenEnv = { SOFTHSM2_CONF: path.join(home, 'softhsm2.conf') };
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'piv', '--pin', PIN, '--so-pin', '13579135'], { env: { ...process.env, ...tokenEnv }, stdio: 'ignore' });
    // P-256 as in PIV slot 9a (OpenSSH 9.2's PKCS#11 code has no Ed25519).
    execFileSync('pkcs11-tool', ['--module', MODULE, '--login', '--pin', PIN, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'piv-9a', '--id', '01'], {
      env: { ...process.env, ...tokenEnv },
      stdio: 'ignore',
    });

    const tokenFile = path.join(home, 'token');
    writeFileSync(tokenFile, await oidc.tokenFor('alice', { expiresInSeconds: 600 }));
    const config = path.join(home, 'client.json');
    writeFileSync(config, JSON.stringify({ server, tokenCommand: ['cat', tokenFile], tokenCache: path.join(home, 'cache', 'token.json') }));
    // HOME without .ssh: the helper creates it for the certificate.
    env = { JITCA_CLIENT_CONFIG: config, HOME: path.join(home, 'alice') };
  });

  afterAll(async () => {
    if (agent !== undefined) spawnSync('kill', [agent.pid]);
    await app?.close();
    await sshd?.stop();
    await oidc?.close();
    await ca?.cleanup();
    rmSync(home, { recursive: true, force: true });
  });

  /** ssh with the key where it lives: -I MODULE (PIN through askpass, as a desktop would) or the agent. */
  function login(certificate: string, how: { module: string } | { agentSocket: string }): { status: number | null; stdout: string; stderr: string } {
    const askpass = path.join(home, 'askpass');
    writeFileSync(askpass, `#!/bin/sh\necho ${PIN}\n`, { mode: 0o700 });
    const where = 'module' in how ? ['-I', how.module, '-o', 'IdentityAgent=none'] : ['-o', `IdentityAgent=${how.agentSocket}`];
    const result = spawnSync(
      'ssh',
      [
        '-F', '/dev/null',
        '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'LogLevel=ERROR',
        '-o', 'ConnectTimeout=5',
        '-o', 'PasswordAuthentication=no',
        '-o', 'KbdInteractiveAuthentication=no',
        '-o', `CertificateFile=${certificate}`,
        ...where,
        '-p', String(sshd.port),
        `${sshd.user}@127.0.0.1`,
        'echo jitca-login-ok',
      ],
      { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...tokenEnv, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('certifies the token key, whose public half ssh-keygen -D reads, and sshd accepts it through -I', async () => {
    const tokenKey = parseSshPublicKey(execFileSync('ssh-keygen', ['-D', MODULE], { env: { ...process.env, ...tokenEnv }, encoding: 'utf8' }).trim());
    const result = await runCli(['ssh-cert', '--role', 'oncall-payments', '--ttl', '10m', '--cluster', 'prod', '--namespace', 'payments', '--reason', 'INC-7', '--pkcs11', MODULE], { ...env, ...tokenEnv });
    expect(result.stderr).toMatch(/log in with: ssh -o CertificateFile=.*jitca_hardware-oncall-payments-cert\.pub -I /);
    expect(result.status).toBe(0);
    const certificatePath = path.join(env['HOME']!, '.ssh', 'jitca_hardware-oncall-payments-cert.pub');
    const certificate = parseCertificate(readFileSync(certificatePath, 'utf8'));
    expect(Buffer.from(certificate.key.blob).equals(Buffer.from(tokenKey.blob))).toBe(true);
    const session = login(certificatePath, { module: MODULE });
    expect(session.stderr).toBe('');
    expect(session.stdout.trim()).toBe('jitca-login-ok');
  });

  it('certifies the key ssh-agent holds (the only one there), and sshd accepts it through the agent', async () => {
    const started = execFileSync('ssh-agent', ['-s', '-a', path.join(home, 'agent.sock')], { encoding: 'utf8' });
    agent = { socket: path.join(home, 'agent.sock'), pid: /SSH_AGENT_PID=(\d+)/.exec(started)![1]! };
    const keyFile = path.join(home, 'agent_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    execFileSync('ssh-add', [keyFile], { env: { ...process.env, SSH_AUTH_SOCK: agent.socket }, stdio: 'ignore' });
    rmSync(keyFile); // from now on only the agent holds the private key
    const result = await runCli(['ssh-cert', '--role', 'oncall-payments', '--ttl', '10m', '--cluster', 'prod', '--namespace', 'payments', '--reason', 'INC-8', '--from-agent'], {
      ...env,
      SSH_AUTH_SOCK: agent.socket,
    });
    expect(result.status).toBe(0);
    const certificatePath = path.join(env['HOME']!, '.ssh', 'jitca_hardware-oncall-payments-cert.pub');
    const certificate = parseCertificate(readFileSync(certificatePath, 'utf8'));
    expect(Buffer.from(certificate.key.blob).equals(Buffer.from(parseSshPublicKey(readFileSync(`${keyFile}.pub`, 'utf8')).blob))).toBe(true);
    const session = login(certificatePath, { agentSocket: agent.socket });
    expect(session.stdout.trim()).toBe('jitca-login-ok');
  });

  it('refuses --key with --pkcs11, and --agent with a token key, before asking for anything', async () => {
    const both = await runCli(['ssh-cert', '--reason', 'x', '--key', path.join(home, 'k'), '--pkcs11', MODULE], env);
    expect(both.status).not.toBe(0);
    expect(both.stderr).toMatch(/ERR_REQUEST_INVALID/);
    const agentFlag = await runCli(['ssh-cert', '--reason', 'x', '--agent', '--pkcs11', MODULE], env);
    expect(agentFlag.stderr).toMatch(/--agent adds a key file/);
  });
});
