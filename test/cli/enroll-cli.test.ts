/**
 * `jitca enroll`, `jitca keys list|remove` and `jitca ssh-cert --key` for roles that require an
 * enrolled key: the real CLI against the API on loopback, tokens from the real OpenID provider.
 * No FIDO device here: the sk key is a public key over a real Ed25519 point and its attestation is
 * judged by the test verifier (test/support/enrollment-fixture.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skKeygenArguments } from '../../src/client/key-enrollment.ts';
import { signEnrollmentChallenge } from '../../src/client/possession-signature.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { enrollmentPolicy, fidoFactsVerifier, skKeyLine, TEST_FIDO_EVIDENCE } from '../support/enrollment-fixture.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(jitca, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

describe('jitca enroll / keys / ssh-cert --key', () => {
  let api: ApiFixture;
  let home: string;
  let agent: ChildProcess | undefined;

  beforeAll(async () => {
    api = await createApiFixture({ policy: enrollmentPolicy, attestationVerifier: fidoFactsVerifier });
    const server = await api.app.listen({ host: '127.0.0.1', port: 0 });
    home = mkdtempSync(path.join(tmpdir(), 'jitca-enroll-cli-'));
    mkdirSync(path.join(home, '.ssh'));
    writeFileSync(path.join(home, 'token'), api.tokens.dave, { mode: 0o600 });
    writeFileSync(path.join(home, 'client.json'), JSON.stringify({ server, tokenCommand: ['cat', path.join(home, 'token')], tokenCache: path.join(home, 'cache', 'token.json') }));
  });
  afterAll(async () => {
    agent?.kill();
    await api?.close();
    rmSync(home, { recursive: true, force: true });
  });

  // No agent unless a test starts one: the signature then comes from the key file beside the .pub.
  const env = (): NodeJS.ProcessEnv => ({ JITCA_CLIENT_CONFIG: path.join(home, 'client.json'), HOME: home, SSH_AUTH_SOCK: '' });
  const enrolledFingerprints = async (): Promise<string> =>
    (await api.app.inject({ method: 'GET', url: '/v1/keys', headers: { authorization: `Bearer ${api.tokens.dave}` } })).body;

  it('builds the ssh-keygen command line that makes a FIDO key attested over the CA\'s challenge', () => {
    expect(skKeygenArguments({ keyFile: '/h/.ssh/id_sk', challengeFile: '/t/c', attestationFile: '/t/a', verifyRequired: true })).toEqual([
      '-t', 'ed25519-sk', '-f', '/h/.ssh/id_sk', '-O', 'challenge=/t/c', '-O', 'write-attestation=/t/a', '-O', 'verify-required',
    ]);
    expect(skKeygenArguments({ keyFile: 'k', challengeFile: 'c', attestationFile: 'a', ecdsa: true, resident: true })).toEqual([
      '-t', 'ecdsa-sk', '-f', 'k', '-O', 'challenge=c', '-O', 'write-attestation=a', '-O', 'resident',
    ]);
  });

  it('enrolls a plain key, lists it, certifies it for a role requiring enrollment, and removes it', async () => {
    const key = path.join(home, '.ssh', 'id_plain');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const enrolled = await runCli(['enroll', '--key', `${key}.pub`], env());
    expect(enrolled.stderr).toBe('');
    expect(enrolled.stdout).toMatch(/^key_[0-9a-f]{32} dave SHA256:\S+ kind=software attested=false enrolled /);
    const id = enrolled.stdout.split(' ')[0]!;
    expect((await runCli(['keys', 'list'], env())).stdout).toContain(id);

    const certified = await runCli(['ssh-cert', '--role', 'enrolled-only', '--ttl', '5m', '--namespace', 'payments', '--reason', 'INC-20', '--key', key], env());
    expect(certified.status, certified.stderr).toBe(0);

    expect((await runCli(['keys', 'remove', id], env())).stdout).toBe(`removed ${id}\n`);
    const refused = await runCli(['ssh-cert', '--role', 'enrolled-only', '--ttl', '5m', '--namespace', 'payments', '--reason', 'INC-20', '--key', key], env());
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/ERR_POLICY_DENIED.*key\.enrolled|key\.enrolled.*ERR_POLICY_DENIED/s);
  });

  it('enrolls an sk key with its attestation and challenge file; ssh-cert --key on the sk key file gets verify-required', async () => {
    const plain = path.join(home, 'point');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', plain]);
    const sk = path.join(home, '.ssh', 'id_ed25519_sk');
    writeFileSync(sk, 'sk key handle: never read by jitca\n', { mode: 0o600 });
    writeFileSync(`${sk}.pub`, `${skKeyLine(execFileSync('cat', [`${plain}.pub`], { encoding: 'utf8' }).trim())} dave@laptop\n`);
    // The challenge ssh-keygen would have been given: one issued to dave.
    const issued = await api.app.inject({ method: 'POST', url: '/v1/keys/challenge', headers: { authorization: `Bearer ${api.tokens.dave}` } });
    writeFileSync(path.join(home, 'challenge'), Buffer.from(issued.json<{ challenge: string }>().challenge, 'base64url'));
    writeFileSync(path.join(home, 'attestation'), Buffer.from(TEST_FIDO_EVIDENCE, 'base64'));

    const enrolled = await runCli(['enroll', '--key', `${sk}.pub`, '--sk-attestation', path.join(home, 'attestation'), '--challenge-file', path.join(home, 'challenge')], env());
    expect(enrolled.stderr).toBe('');
    expect(enrolled.stdout).toMatch(/kind=fido attested=true up=true uv=true/);
    const replay = await runCli(['enroll', '--key', `${sk}.pub`, '--sk-attestation', path.join(home, 'attestation'), '--challenge-file', path.join(home, 'challenge')], env());
    expect(replay.stderr).toMatch(/ERR_CHALLENGE_INVALID/);

    const certified = await runCli(['ssh-cert', '--role', 'fido-uv', '--ttl', '5m', '--namespace', 'payments', '--reason', 'INC-20', '--key', sk], env());
    expect(certified.status, certified.stderr).toBe(0);
    expect(execFileSync('ssh-keygen', ['-L', '-f', `${sk}-cert.pub`], { encoding: 'utf8' })).toMatch(/Critical Options:\s*\n\s*verify-required/);
  });

  it('signs for a key only ssh-agent holds (no private key file) through the agent; with neither, refuses to sign', async () => {
    const key = path.join(home, 'agent-only');
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '256', '-N', '', '-f', key]);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${key}.pub`], { encoding: 'utf8' }).split(' ')[1]!;

    const socket = path.join(home, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
    execFileSync('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
    rmSync(key);

    // Neither the agent (not asked) nor a key file: nothing can sign, so nothing is sent.
    const publicKey = parseSshPublicKey(readFileSync(`${key}.pub`, 'utf8'));
    await expect(signEnrollmentChallenge(publicKey, Buffer.alloc(32), { privateKeyFile: key })).rejects.toMatchObject({ code: 'ERR_REQUEST_INVALID' });
    expect(await enrolledFingerprints()).not.toContain(fingerprint);

    const enrolled = await runCli(['enroll', '--key', `${key}.pub`], { ...env(), SSH_AUTH_SOCK: socket });
    expect(enrolled.stderr).toBe('');
    expect(enrolled.stdout).toMatch(/^key_[0-9a-f]{32} dave SHA256:\S+ kind=software attested=false enrolled /);
    expect(await enrolledFingerprints()).toContain(fingerprint);
  });
});
