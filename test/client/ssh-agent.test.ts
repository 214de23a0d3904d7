import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSshAgentReachable } from '../../src/client/ssh-agent.ts';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

function codeAndMessage(run: () => void): string {
  try {
    run();
  } catch (error) {
    return isJitcaError(error) ? `${error.code}: ${error.message}` : `not a JitcaError: ${String(error)}`;
  }
  return 'no error';
}

describe('ssh-cert --agent checks for an agent before it requests a certificate', () => {
  let dir: string;
  let agent: ChildProcess | undefined;
  let socket: string;
  let fake: Server;
  let server: string;
  let requests = 0;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-ssh-agent-'));
    socket = path.join(dir, 'agent.sock');
    // -D: in the foreground, so this test holds the process and ends it.
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
    // Anything that reaches it would be a certificate request: counted, answered 500.
    fake = createServer((_request, response) => {
      requests++;
      response.writeHead(500).end('{}');
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    server = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    if (agent !== undefined && agent.exitCode === null) agent.kill('SIGTERM');
    await new Promise((resolve) => fake?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a running ssh-agent, and refuses an unset SSH_AUTH_SOCK and a socket nobody answers on', async () => {
    const env = { PATH: process.env['PATH'] };
    expect(codeAndMessage(() => checkSshAgentReachable({ ...env, SSH_AUTH_SOCK: socket }))).toBe('no error');
    expect(codeAndMessage(() => checkSshAgentReachable(env))).toMatch(/^ERR_REQUEST_INVALID: --agent: SSH_AUTH_SOCK is not set/);
    const exited = new Promise((resolve) => agent!.once('exit', resolve));
    agent!.kill('SIGTERM');
    await exited;
    expect(codeAndMessage(() => checkSshAgentReachable({ ...env, SSH_AUTH_SOCK: socket }))).toMatch(/^ERR_REQUEST_INVALID: --agent: no ssh-agent answers on SSH_AUTH_SOCK/);
    expect(codeAndMessage(() => checkSshAgentReachable({ ...env, SSH_AUTH_SOCK: path.join(dir, 'never-there.sock') }))).toMatch(/no ssh-agent answers/);
  });

  it('`jitca ssh-cert --agent` without an agent asks the server nothing and generates no key', async () => {
    const clientConfig = path.join(dir, 'client.json');
    writeFileSync(clientConfig, JSON.stringify({ server, tokenCommand: ['/bin/echo', 'token'] }));
    const key = path.join(dir, 'id_test');
    const { SSH_AUTH_SOCK: _unset, ...env } = process.env;
    for (const agentEnv of [env, { ...env, SSH_AUTH_SOCK: path.join(dir, 'dead.sock') }]) {
      const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        execFile(jitca, ['ssh-cert', '--client-config', clientConfig, '--key', key, '--reason', 'INC-1', '--agent'], { env: agentEnv, encoding: 'utf8' }, (error, _stdout, stderr) =>
          resolve({ status: error === null ? 0 : (error.code as number | null), stderr }),
        );
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: --agent: /);
    }
    expect(requests).toBe(0);
    expect(existsSync(key)).toBe(false);
  });
});
