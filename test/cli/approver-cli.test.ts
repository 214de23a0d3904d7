/**
 * The approver's commands end to end: the real `jitca` CLI (requests list/show, approve, deny,
 * ssh-cert) against the API listening on loopback, with tokens from the real OpenID provider.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI; `onStderr` sees its progress lines as they come. */
function runCli(args: string[], env: NodeJS.ProcessEnv, onStderr?: (text: string) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(jitca, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr?.(stderr);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

// Each case runs the real CLI several times (a process start each): on a loaded machine that is more than the default 30 s.
describe('jitca requests / approve / deny, and what ssh-cert says when the wait ends', { timeout: 90_000 }, () => {
  let api: ApiFixture;
  let home: string;
  let server: string;

  beforeAll(async () => {
    api = await createApiFixture();
    server = await api.app.listen({ host: '127.0.0.1', port: 0 });
    home = mkdtempSync(path.join(tmpdir(), 'jitca-approver-'));
  });
  afterAll(async () => {
    await api?.close();
    rmSync(home, { recursive: true, force: true });
  });

  /** Each person has their own helper config; the token command prints their token. */
  function as(name: keyof ApiFixture['tokens']): NodeJS.ProcessEnv {
    const dir = path.join(home, name);
    mkdirSync(path.join(dir, '.ssh'), { recursive: true });
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, api.tokens[name], { mode: 0o600 });
    const config = path.join(dir, 'client.json');
    writeFileSync(config, JSON.stringify({ server, tokenCommand: ['cat', tokenFile], tokenCache: path.join(dir, 'cache', 'token.json') }));
    return { JITCA_CLIENT_CONFIG: config, HOME: dir };
  }

  /** dave asks for break-glass with ssh-cert; `whileWaiting` runs once with the request id. */
  async function daveWaits(reason: string, whileWaiting: (id: string) => Promise<void>): Promise<Run> {
    let waiting: Promise<void> | undefined;
    const args = ['ssh-cert', '--role', 'break-glass', '--ttl', '5m', '--cluster', 'prod', '--namespace', 'payments', '--reason', reason, '--key', path.join(home, 'dave', '.ssh', 'id_ed25519')];
    const result = await runCli(args, as('dave'), (stderr) => {
      const match = /request (req_[0-9a-f]{32}) needs approval/.exec(stderr);
      if (match !== null && waiting === undefined) waiting = whileWaiting(match[1]!);
    });
    await waiting;
    return result;
  }

  it('an approver lists, shows and approves; the requester is told who approved and why', async () => {
    let id = '';
    const result = await daveWaits('INC-7: payments down', async (requestId) => {
      id = requestId;
      const listed = await runCli(['requests', 'list', '--pending', '--to-approve'], as('bob'));
      expect(listed.status, listed.stderr).toBe(0);
      const line = listed.stdout.split('\n').find((candidate) => candidate.startsWith(id));
      expect(line).toMatch(/pending\s+dave\s+break-glass\s+approvals 0\/2 .*"INC-7: payments down"/);
      // dave's own list has it; his to-approve list does not (nobody approves their own).
      expect((await runCli(['requests', 'list', '--mine'], as('dave'))).stdout).toContain(id);
      expect((await runCli(['requests', 'list', '--to-approve'], as('dave'))).stdout).not.toContain(id);

      const shown = await runCli(['requests', 'show', id], as('carol'));
      expect(shown.status, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(/requester\s+dave/);
      expect(shown.stdout).toMatch(/principals\s+root-debug/);
      expect(shown.stdout).toMatch(/scope\s+cluster=prod namespace=payments/);
      expect(shown.stdout).toMatch(/ttl\s+300s/);
      expect(shown.stdout).toMatch(/approvals\s+0 of 2 needed from sre-leads/);

      const first = await runCli(['approve', id, '--reason', 'paged, INC-7 confirmed'], as('bob'));
      expect(first.status, first.stderr).toBe(0);
      expect(first.stderr).toContain(`${id} pending: 1 of 2 approval(s)`);
      const self = await runCli(['approve', id, '--reason', 'me'], as('dave'));
      expect(self.status).toBe(2);
      expect(self.stderr).toMatch(/ERR_APPROVAL_REFUSED.*\[rule approval\.self\]/);
      const second = await runCli(['approve', id, '--reason', 'second look'], as('carol'));
      expect(second.status, second.stderr).toBe(0);
      expect(second.stderr).toMatch(/issued at \S+ after approval by bob \(paged, INC-7 confirmed\), carol \(second look\)/);
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain(`request ${id} issued at`);
    expect(result.stderr).toMatch(/after approval by bob \(paged, INC-7 confirmed\), carol \(second look\)/);
    expect(result.stderr).toMatch(/wrote .*id_ed25519-cert\.pub/);
    const shown = await runCli(['requests', 'show', id], as('dave'));
    expect(shown.stdout).toMatch(/decision\s+issued at/);
    expect(shown.stdout).toMatch(/bob at \S+ \(paged, INC-7 confirmed\)/);
  });

  it('an approver denies; the requester is told who denied and why, and nothing is written', async () => {
    let id = '';
    const result = await daveWaits('want root', async (requestId) => {
      id = requestId;
      const denied = await runCli(['deny', id, '--reason', 'not an incident, use oncall-payments'], as('bob'));
      expect(denied.status, denied.stderr).toBe(0);
      expect(denied.stderr).toMatch(/denied by bob at \S+: not an incident, use oncall-payments/);
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`ERR_REQUEST_NOT_PENDING: request ${id} denied by bob at \\S+: not an incident, use oncall-payments`));
    expect(result.stderr).not.toMatch(/wrote/);
  });

  it('Ctrl-C while waiting says how to resume; --request-id collects the certificate once approved, for the requester and the key only', async () => {
    const key = path.join(home, 'dave', '.ssh', 'id_resume');
    const args = ['ssh-cert', '--role', 'break-glass', '--ttl', '5m', '--cluster', 'prod', '--namespace', 'payments', '--reason', 'INC-9', '--key', key];
    const child = spawn(jitca, args, { env: { ...process.env, ...as('dave') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let id = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (status) => resolve(status)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no pending line: ${stderr}`)), 30_000);
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /request (req_[0-9a-f]{32}) needs approval/.exec(stderr);
        if (match !== null && id === '') {
          id = match[1]!;
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain(`request ${id} stays pending`);
    expect(stderr).toContain(`resume with: jitca ssh-cert --request-id ${id} --key ${key}`);

    // The request's terms were fixed when it was made; resuming cannot change them.
    const changed = await runCli(['ssh-cert', '--request-id', id, '--key', key, '--ttl', '30m'], as('dave'));
    expect([changed.status, changed.stderr]).toEqual([2, expect.stringContaining('--request-id resumes a request as it was made: leave out --ttl')]);
    expect((await runCli(['approve', id, '--reason', 'ok'], as('bob'))).status).toBe(0);
    expect((await runCli(['approve', id, '--reason', 'ok too'], as('carol'))).status).toBe(0);

    // Another person cannot collect it (the server answers only the requester); another key gets nothing written.
    const carolKey = path.join(home, 'carol', '.ssh', 'id_other');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', carolKey]);
    const stranger = await runCli(['ssh-cert', '--request-id', id, '--key', carolKey], as('carol'));
    expect(stranger.status).toBe(2);
    expect(stranger.stderr).toContain(`ERR_FORBIDDEN: only the requester may fetch the certificate of request ${id}`);
    const otherKey = path.join(home, 'dave', '.ssh', 'id_other');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const wrongKey = await runCli(['ssh-cert', '--request-id', id, '--key', otherKey], as('dave'));
    expect(wrongKey.status).toBe(2);
    expect(wrongKey.stderr).toContain('ERR_CERTIFICATE_INVALID');
    expect(existsSync(`${otherKey}-cert.pub`)).toBe(false);
    const missingKey = await runCli(['ssh-cert', '--request-id', id, '--key', path.join(home, 'dave', '.ssh', 'never-made')], as('dave'));
    expect([missingKey.status, missingKey.stderr]).toEqual([2, expect.stringContaining('--request-id: there is no key')]);

    const resumed = await runCli(['ssh-cert', '--request-id', id, '--key', key], as('dave'));
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/after approval by bob \(ok\), carol \(ok too\)/);
    expect(readFileSync(`${key}-cert.pub`, 'utf8')).toMatch(/^ssh-ed25519-cert-v01@openssh\.com /);
  });

  it('refuses what is not a request id or a reason before asking, and shows outsiders nothing', async () => {
    const before = api.rowCounts();
    for (const args of [
      ['requests', 'show', '../../v1/ssh/certificates'],
      ['requests', 'show', 'req_1?state=x'],
      ['approve', 'req_1/../x', '--reason', 'ok'],
      ['approve', `req_${'0'.repeat(32)}`, '--reason', 'ok\u001b[2K\rapproved by security'],
      ['deny', `req_${'0'.repeat(32)}`, '--reason', '   '],
      ['requests', 'list', '--mine', '--to-approve'],
      ['requests', 'list', '--state', 'lost'],
    ]) {
      const refused = await runCli(args, as('bob'));
      expect(refused.status, args.join(' ')).toBe(2);
      expect(refused.stderr, args.join(' ')).toMatch(/^jitca: ERR_REQUEST_INVALID: /);
    }
    expect(api.rowCounts()).toEqual(before);

    const listed = await runCli(['requests', 'list'], as('mallory'));
    expect(listed.status).toBe(0);
    expect(listed.stdout).toBe('');
    const id = (await api.ca.runtime.store.listRequests({ states: ['denied'], scope: { requester: 'dave', roles: [] }, limit: 1 }))[0]!.id;
    const hidden = await runCli(['requests', 'show', id], as('mallory'));
    expect(hidden.status).toBe(2);
    expect(hidden.stderr).toMatch(/ERR_REQUEST_NOT_FOUND/);
  });
});
