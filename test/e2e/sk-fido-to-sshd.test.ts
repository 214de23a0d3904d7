/**
 * A FIDO security key end to end, with a software authenticator (sk-dummy, OpenSSH's own test
 * authenticator, vendored in test/support/sk-dummy) in place of the hardware: real ssh-keygen
 * makes the sk key over the API's enrollment challenge and writes its attestation, `jitca enroll`
 * enrolls it as attested under the test's root (configured as attestation.fidoRoots, as serve reads
 * it), roles that require attested keys and user verification certify it and refuse other keys
 * naming the rule, and a real sshd enforces the certificate's verify-required on ssh's signatures.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppFromConfig } from '../../src/api/api-from-config.ts';
import { API_AUDIENCE, accounts } from '../support/api-fixture.ts';
import { testAuthenticator } from '../support/attestation-builder.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { enrollmentPolicy } from '../support/enrollment-fixture.ts';
import { JITCA_BIN } from '../support/jitca-cli.ts';
import { startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';
import { skDummyAttestationEnv, skDummyProvider } from '../support/sk-dummy.ts';
import { startSshd, type SshdHandle } from '../support/sshd.ts';

const policy = {
  ...enrollmentPolicy,
  roles: [
    ...enrollmentPolicy.roles,
    {
      name: 'fido-attested',
      groups: ['sre'],
      principals: ['db'],
      maxTtlSeconds: 600,
      scope: { clusters: ['prod'], namespaces: ['payments'] },
      approval: { mode: 'auto' },
      key: { attested: 'fido' },
    },
  ],
};

function pem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
}

/** bin/jitca with stdin closed (ssh-keygen, run by --generate-sk, reads an empty passphrase from it). */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(JITCA_BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('FIDO sk key from a software authenticator: enroll, certify, log in to a real sshd', () => {
  let provider: string;
  let ca: CaFixture;
  let oidc: OidcTestProvider;
  let app: FastifyInstance;
  let server: string;
  let sshd: SshdHandle;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let token: string;
  let attestationEnv: NodeJS.ProcessEnv;
  /** Made with -O verify-required, enrolled by the explicit ssh-keygen + jitca enroll path. */
  let uvKey: string;
  /** Made without it, as ecdsa-sk (sk-dummy's other algorithm), by jitca enroll --generate-sk through SSH_SK_PROVIDER. */
  let upKey: string;

  beforeAll(async () => {
    provider = skDummyProvider();
    home = mkdtempSync(path.join(tmpdir(), 'jitca-sk-'));
    const authenticator = await testAuthenticator();
    const rootFile = path.join(home, 'fido-root.pem');
    writeFileSync(rootFile, pem(authenticator.root.certificate.der));
    writeFileSync(path.join(home, 'attestation.key'), authenticator.attestationKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    writeFileSync(path.join(home, 'attestation.der'), authenticator.certificate.der);
    attestationEnv = skDummyAttestationEnv(path.join(home, 'attestation.key'), path.join(home, 'attestation.der'));

    ca = await createCaFixture({ policy });
    oidc = await startOidcProvider({ accounts, audience: API_AUDIENCE });
    // As serve builds it: the shipped Yubico roots plus the configured file hold the test's root.
    app = await buildAppFromConfig(
      ca.runtime,
      { ...ca.config, oidc: { issuer: oidc.issuer, audience: API_AUDIENCE, jwksUri: oidc.jwksUri }, attestation: { ...ca.config.attestation, fidoRoots: [rootFile] } },
      false,
    );
    server = await app.listen({ host: '127.0.0.1', port: 0 });
    sshd = await startSshd();
    sshd.setTrustedCaKeys((await app.inject({ url: '/v1/trust/ssh-user-ca' })).body);
    sshd.setPrincipals(sshd.user, ['db']);

    token = await oidc.tokenFor('dave', { expiresInSeconds: 600 });
    const tokenFile = path.join(home, 'token');
    writeFileSync(tokenFile, token);
    const config = path.join(home, 'client.json');
    writeFileSync(config, JSON.stringify({ server, tokenCommand: ['cat', tokenFile], tokenCache: path.join(home, 'cache', 'token.json') }));
    env = { JITCA_CLIENT_CONFIG: config, HOME: path.join(home, 'dave') };
    uvKey = path.join(home, 'id_uv_sk');
    upKey = path.join(home, 'id_up_sk');
  });

  afterAll(async () => {
    await app?.close();
    await sshd?.stop();
    await oidc?.close();
    await ca?.cleanup();
    if (home !== undefined) rmSync(home, { recursive: true, force: true });
  });

  const enrolledKeys = async (): Promise<Array<Record<string, unknown>>> =>
    ((await (await fetch(`${server}/v1/keys`, { headers: { authorization: `Bearer ${token}` } })).json()) as { keys: Array<Record<string, unknown>> }).keys;

  const sshCert = (role: string, key: string) =>
    runCli(['ssh-cert', '--role', role, '--ttl', '5m', '--cluster', 'prod', '--namespace', 'payments', '--reason', 'INC-20', '--key', key], env);

  /** ssh with the sk key through sk-dummy; the PIN a verify-required key asks for comes from askpass. */
  const login = (key: string, knobs: NodeJS.ProcessEnv = {}) => {
    const askpass = path.join(home, 'askpass');
    writeFileSync(askpass, '#!/bin/sh\necho 123456\n', { mode: 0o700 });
    return sshd.login({
      key,
      certificate: `${key}-cert.pub`,
      sshOptions: ['-o', `SecurityKeyProvider=${provider}`],
      env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', ...knobs },
    });
  };

  it('real ssh-keygen answers the API challenge through sk-dummy, and jitca enroll enrolls the key as attested under the configured root, with UV', async () => {
    const challenge = (await (await fetch(`${server}/v1/keys/challenge`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' })).json()) as {
      challenge: string;
    };
    const challengeFile = path.join(home, 'challenge');
    const attestationFile = path.join(home, 'attestation');
    writeFileSync(challengeFile, Buffer.from(challenge.challenge, 'base64url'));
    execFileSync(
      'ssh-keygen',
      ['-q', '-t', 'ed25519-sk', '-w', provider, '-O', `challenge=${challengeFile}`, '-O', `write-attestation=${attestationFile}`, '-O', 'verify-required', '-N', '', '-f', uvKey],
      { env: { ...process.env, ...attestationEnv }, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 },
    );
    const enrolled = await runCli(['enroll', '--key', `${uvKey}.pub`, '--sk-attestation', attestationFile, '--challenge-file', challengeFile], env);
    expect(enrolled.stderr).toBe('');
    expect(enrolled.stdout).toMatch(/ kind=fido attested=true up=true uv=true enrolled /);
    const [key] = (await enrolledKeys()).filter((listed) => listed['publicKey'] === readFileSync(`${uvKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' '));
    expect(key).toMatchObject({ owner: 'dave', kind: 'fido', attested: true, root: expect.stringContaining('Test FIDO Root'), flags: { up: true, uv: true } });

    // The challenge was used: the same attestation again is refused, and nothing more is enrolled.
    const replayed = await runCli(['enroll', '--key', `${uvKey}.pub`, '--sk-attestation', attestationFile, '--challenge-file', challengeFile], env);
    expect(replayed.status).not.toBe(0);
    expect(replayed.stderr).toContain('ERR_CHALLENGE_INVALID');
    expect(await enrolledKeys()).toHaveLength(1);
  });

  it('jitca enroll --generate-sk runs ssh-keygen through SSH_SK_PROVIDER: an ecdsa-sk key made without verify-required enrolls attested, without UV', async () => {
    const enrolled = await runCli(['enroll', '--generate-sk', upKey, '--ecdsa'], { ...env, ...attestationEnv, SSH_SK_PROVIDER: provider });
    expect(enrolled.status, enrolled.stderr).toBe(0);
    expect(enrolled.stdout).toMatch(/ kind=fido attested=true up=true uv=false enrolled /);
    expect(readFileSync(`${upKey}.pub`, 'utf8')).toMatch(/^sk-ecdsa-sha2-nistp256@openssh\.com /);
  });

  it('the attested-FIDO role certifies the sk key and refuses a plain key naming key.attested; the UV role refuses the key without UV naming key.user-verification', async () => {
    const plainKey = path.join(home, 'id_plain');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', plainKey]);
    // Enrolled, so the refusal is about the hardware, not the enrollment.
    const enrolled = await runCli(['enroll', '--key', `${plainKey}.pub`], env);
    expect(enrolled.stdout).toMatch(/ kind=software attested=false /);
    const plain = await sshCert('fido-attested', plainKey);
    expect(plain.status).not.toBe(0);
    expect(plain.stderr).toContain('[rule key.attested]');

    const noUv = await sshCert('fido-uv', upKey);
    expect(noUv.status).not.toBe(0);
    expect(noUv.stderr).toContain('[rule key.user-verification]');

    const attested = await sshCert('fido-attested', upKey);
    expect(attested.status, attested.stderr).toBe(0);
    expect(execFileSync('ssh-keygen', ['-L', '-f', `${upKey}-cert.pub`], { encoding: 'utf8' })).not.toContain('verify-required');
  });

  it('the UV role certifies the verify-required key with verify-required in the certificate, and a real sshd accepts a signature with UV and refuses one without', async () => {
    const issued = await sshCert('fido-uv', uvKey);
    expect(issued.status, issued.stderr).toBe(0);
    expect(execFileSync('ssh-keygen', ['-L', '-f', `${uvKey}-cert.pub`], { encoding: 'utf8' })).toMatch(/Critical Options:\s*\n\s*verify-required/);

    const verified = login(uvKey);
    expect(verified.stdout.trim(), verified.stderr).toBe('jitca-login-ok');

    // The same key and certificate, but the authenticator signs without verifying the user.
    const logged = sshd.log().length;
    const unverified = login(uvKey, { SK_DUMMY_NO_UV: '1' });
    expect(unverified.status).toBe(255);
    expect(unverified.stdout).not.toContain('jitca-login-ok');
    // spawnSync held the event loop: sshd's log lines arrive now (bounded wait, no timing asserted).
    const refusal = /rejected: user verification requirement not met/;
    for (let i = 0; i < 100 && !refusal.test(sshd.log().slice(logged)); i++) await sleep(20);
    expect(sshd.log().slice(logged)).toMatch(refusal);

    // Without verify-required in the certificate, sshd takes a signature without UV.
    const presenceOnly = login(upKey, { SK_DUMMY_NO_UV: '1' });
    expect(presenceOnly.stdout.trim(), presenceOnly.stderr).toBe('jitca-login-ok');
  });
});
