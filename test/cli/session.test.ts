import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

function keygen(file: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

/** Signs file.pub with the CA key, writing file-cert.pub (real ssh-keygen, the format jitca's server writes). */
function sign(ca: string, file: string, serial: number, keyId: string): void {
  execFileSync('ssh-keygen', ['-q', '-s', ca, '-I', keyId, '-n', 'alice', '-z', String(serial), '-V', '+1h', `${file}.pub`]);
}

describe('whoami, status and logout', () => {
  let dir: string;
  let agent: ChildProcess | undefined;
  let env: NodeJS.ProcessEnv;
  let clientConfig: string;
  let tokenCache: string;
  let key: string;
  const token = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(
    JSON.stringify({ iss: 'https://idp.example', sub: 'alice', groups: ['oncall-payments', 'eng'] }),
  ).toString('base64url')}.c2lnbmF0dXJl`;

  function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(jitca, [...args, '--client-config', clientConfig, '--key', key], { env, encoding: 'utf8', timeout: 30_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  function agentLines(): string[] {
    return spawnSync('ssh-add', ['-L'], { env, encoding: 'utf8' }).stdout.split('\n').filter((line) => line !== '');
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-session-'));
    const socket = path.join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
    env = { PATH: process.env['PATH'], HOME: dir, SSH_AUTH_SOCK: socket };
    tokenCache = path.join(dir, 'token.json');
    clientConfig = path.join(dir, 'client.json');
    writeFileSync(clientConfig, JSON.stringify({ server: 'http://127.0.0.1:9', tokenCache }));
    writeFileSync(tokenCache, JSON.stringify({ accessToken: token, expiresAt: new Date(Date.now() + 3_600_000).toISOString() }), { mode: 0o600 });
    const ca = path.join(dir, 'ca');
    keygen(ca, 'ca');
    key = path.join(dir, 'jitca_ed25519');
    keygen(key, 'jitca');
    sign(ca, key, 4242, 'alice-oncall');
    // Someone else's key and certificate in the same agent: logout must leave them alone.
    const other = path.join(dir, 'other');
    const otherCa = path.join(dir, 'other-ca');
    keygen(otherCa, 'other-ca');
    keygen(other, 'other');
    sign(otherCa, other, 7, 'not-jitca');
    execFileSync('ssh-add', ['-q', key], { env, stdio: 'ignore' });
    execFileSync('ssh-add', ['-q', other], { env, stdio: 'ignore' });
  });
  afterAll(() => {
    if (agent !== undefined && agent.exitCode === null) agent.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('whoami shows identity, groups, token expiry and the certificate on disk and in ssh-agent, never the token', () => {
    const shown = run(['whoami']);
    expect(shown.stderr).toBe('');
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/^identity: alice$/m);
    expect(shown.stdout).toMatch(/^issuer: {3}https:\/\/idp\.example$/m);
    expect(shown.stdout).toMatch(/^groups: {3}eng, oncall-payments$/m);
    expect(shown.stdout).toMatch(/^token: {4}valid until \S+ \(\d+s more\)$/m);
    expect(shown.stdout).toContain(`certificate ${key}-cert.pub: serial 4242, key id alice-oncall, principals alice, valid until`);
    expect(shown.stdout).toContain('certificate ssh-agent: serial 4242, key id alice-oncall');
    expect(shown.stdout).not.toContain('not-jitca');
    expect(shown.stdout).not.toContain(token.split('.')[1]);
    const withoutSeconds = (text: string): string => text.replace(/\(\d+s more\)/g, '(Ns more)');
    expect(withoutSeconds(run(['status']).stdout)).toBe(withoutSeconds(shown.stdout));
  });

  it('logout forgets the token and removes only jitca\'s certificate from ssh-agent', () => {
    const before = agentLines();
    expect(before.filter((line) => line.includes('-cert-v01@openssh.com'))).toHaveLength(2);
    const out = run(['logout']);
    expect(out.status).toBe(0);
    expect(out.stderr).toMatch(/forgot the token in .*token\.json; removed 1 certificate\(s\) from ssh-agent/);
    expect(existsSync(tokenCache)).toBe(false);
    const after = agentLines();
    expect(after.filter((line) => line.includes('-cert-v01@openssh.com'))).toHaveLength(1);
    expect(after.some((line) => line.includes('-cert-v01@openssh.com') && line.endsWith(' other'))).toBe(true);
    const shown = run(['whoami']);
    expect(shown.stdout).toMatch(/^not logged in \(no stored token\)/);
    expect(shown.stdout).not.toContain('certificate ssh-agent');
  });
});
