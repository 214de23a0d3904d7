import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { JITCA_BIN, runJitca } from '../support/jitca-cli.ts';
import { startSshdTrusting, type SshdHandle } from '../support/sshd.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

/**
 * The first hour on the embedded default, as a new user runs it: `serve --demo` registers a demo
 * person, logs in over the API with the helper and gets a certificate a real sshd accepts; then
 * the administrator's `users add|list|remove` (each audited) and an engineer's `login --local` and
 * `ssh-cert` through the same running server.
 */

let dataDir: string;
let serve: ChildProcess | undefined;
let output = '';
let server: string;
let sshd: SshdHandle | undefined;
let engineer: TempSshKey;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-local-cli-'));
  engineer = createTempSshKey('jitca-local-engineer-');
  serve = spawn(JITCA_BIN, ['--data-dir', dataDir, 'serve', '--demo', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  serve.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  serve.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // Bounded: the demo's last line, or the process ending, or 60 s.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve --demo did not finish its demo:\n${output}`)), 60_000);
    const check = (): void => {
      if (/ssh -i .*CertificateFile=/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    serve?.stdout?.on('data', check);
    serve?.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`serve exited:\n${output}`));
    });
  });
  server = /logged in as demo over (\S+) /.exec(output)?.[1] ?? '';
}, 90_000);

afterAll(async () => {
  serve?.kill('SIGTERM');
  await sshd?.stop();
  engineer?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

function jitca(args: string[]): ReturnType<typeof runJitca> {
  return runJitca(['--data-dir', dataDir, ...args]);
}

describe('serve --demo', () => {
  it('registers the demo person, logs in with the helper, issues over the API, and the certificate opens a real sshd', async () => {
    expect(output).toMatch(/registered local user demo \(group oncall-payments\)/);
    expect(server).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const key = path.join(dataDir, 'demo', 'id_ed25519');
    expect(existsSync(`${key}-cert.pub`)).toBe(true);
    expect(output).toContain(`login --local --user demo --key ${key}`);
    const bundle = await (await fetch(`${server}/v1/trust/ssh-user-ca`)).text();
    ({ sshd } = await startSshdTrusting(bundle, ['oncall-payments']));
    const login = sshd.login({ key, certificate: `${key}-cert.pub`, command: 'echo demo-login-ok' });
    expect(login.stdout.trim()).toBe('demo-login-ok');
  }, 60_000);
});

describe('users and login --local', () => {
  it('users add, list and remove are audited; login --local and ssh-cert work in between, and not after removal', async () => {
    const added = await jitca(['users', 'add', 'alice', '--group', 'oncall-payments', '--group', 'sre', '--key', `${engineer.keyPath}.pub`]);
    expect(added.status, added.stderr).toBe(0);
    const clientConfig = path.join(engineer.dir, 'client.json');
    writeFileSync(clientConfig, JSON.stringify({ server, tokenCache: path.join(engineer.dir, 'token.json') }));
    const [listed, login] = await Promise.all([
      jitca(['users', 'list']),
      runJitca(['login', '--local', '--user', 'alice', '--key', engineer.keyPath, '--no-agent', '--client-config', clientConfig]),
    ]);
    expect(listed.stdout.split('\n').filter(Boolean).map((line) => line.split('\t').slice(0, 2))).toEqual([
      ['alice', 'oncall-payments,sre'],
      ['demo', 'oncall-payments'],
    ]);

    expect(login.stderr).toMatch(/logged in as alice \(groups oncall-payments, sre; signed with the key file\)/);
    const cert = await runJitca(['ssh-cert', '--role', 'oncall-payments', '--key', engineer.keyPath, '--client-config', clientConfig, '--reason', 'local identity test']);
    expect(cert.status, cert.stderr).toBe(0);

    const removed = await jitca(['users', 'remove', 'alice']);
    expect(removed.status, removed.stderr).toBe(0);
    const [after, exported] = await Promise.all([
      runJitca(['ssh-cert', '--role', 'oncall-payments', '--key', engineer.keyPath, '--client-config', clientConfig, '--reason', 'after removal']),
      jitca(['audit', 'export']),
    ]);
    expect(after.stderr).toContain(ErrorCodes.AUTHN_LOCAL_USER);
    const records = exported.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { type: string; subject?: string; actor: string });
    expect(records.filter((record) => record.type.startsWith('user.') && record.actor !== 'demo').map((record) => [record.type, record.subject ?? record.actor])).toEqual([
      ['user.added', 'demo'],
      ['user.added', 'alice'],
      ['user.session', 'alice'],
      ['user.removed', 'alice'],
    ]);
    expect(readFileSync(path.join(engineer.dir, 'token.json'), 'utf8')).toContain('accessToken');
    // Each step is a CLI process start; on a loaded machine that alone takes seconds.
  }, 120_000);
});
