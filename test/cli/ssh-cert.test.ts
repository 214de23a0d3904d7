import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

describe('jitca ssh-cert and ssh-cert revoke against a running API', () => {
  let api: ApiFixture;
  let dir: string;
  let agent: ChildProcess | undefined;
  let env: NodeJS.ProcessEnv;
  let clientConfig: string;
  let key: string;

  /** Spawned asynchronously: the API answers in this process, so a synchronous child would block it. */
  async function jitcaRun(args: string[], keyArgs = ['--key', key]): Promise<{ status: number | null; stderr: string }> {
    const child = spawn(jitca, [...args, '--client-config', clientConfig, ...keyArgs], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
    return { status, stderr };
  }

  function agentCertificates(): string[] {
    return spawnSync('ssh-add', ['-L'], { env, encoding: 'utf8' }).stdout.split('\n').filter((line) => line.includes('-cert-v01@openssh.com'));
  }

  beforeAll(async () => {
    api = await createApiFixture();
    await api.app.listen({ port: 0, host: '127.0.0.1' });
    const server = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`;
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-ssh-cert-'));
    const socket = path.join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
    env = { PATH: process.env['PATH'], HOME: dir, SSH_AUTH_SOCK: socket };
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, api.tokens.alice, { mode: 0o600 });
    clientConfig = path.join(dir, 'client.json');
    writeFileSync(clientConfig, JSON.stringify({ server, tokenCommand: ['cat', tokenFile] }));
    key = path.join(dir, 'jitca_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'jitca', '-f', key]);
  });
  afterAll(async () => {
    if (agent !== undefined && agent.exitCode === null) agent.kill('SIGTERM');
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('revokes the current certificate with the engineer\'s own token and removes it from ssh-agent', async () => {
    const issued = await jitcaRun(['ssh-cert', '--role', 'oncall-payments', '--ttl', '10m', '--reason', 'INC-7', '--agent']);
    expect(issued.stderr).toMatch(/wrote .*jitca_ed25519-cert\.pub \(serial \d+/);
    expect(issued.status).toBe(0);
    const serial = /serial (\d+)/.exec(issued.stderr)![1]!;
    expect(agentCertificates()).toHaveLength(1);

    const revoked = await jitcaRun(['ssh-cert', 'revoke', '--reason', 'laptop lost']);
    expect(revoked.stderr).toBe(`jitca: revoked serial ${serial}; removed 1 certificate(s) from ssh-agent\n`);
    expect(revoked.status).toBe(0);
    expect(agentCertificates()).toEqual([]);
    const audited = (await api.ca.runtime.store.listAudit({ limit: 1000 })).filter((record) => record.type === 'ssh.revoked');
    expect(audited.map((record) => [record.actor, record.data['serial']])).toEqual([['alice', serial]]);

    // Again: the server's answer (already revoked, or not found) reaches the terminal with its code.
    const again = await jitcaRun(['ssh-cert', 'revoke', '--serial', serial, '--reason', 'twice']);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/ERR_/);
    const hostile = await jitcaRun(['ssh-cert', 'revoke', '--serial', '../../v1/x', '--reason', 'x']);
    expect(hostile.stderr).toMatch(/ERR_REQUEST_INVALID/);
  });

  it('keeps one certificate per --role next to its own key, and says when --ttl was capped', async () => {
    const sshDir = path.join(dir, '.ssh');
    mkdirSync(sshDir, { mode: 0o700 });
    const forRole = await jitcaRun(['ssh-cert', '--role', 'oncall-payments', '--ttl', '2h', '--reason', 'INC-8'], []);
    expect(forRole.status).toBe(0);
    expect(forRole.stderr).toMatch(/^jitca: ttl 7200s \(2h\) exceeds role oncall-payments max 1800s \(30m\); capped to 1800s \(30m\)$/m);
    const roleCertificate = path.join(sshDir, 'jitca_ed25519-oncall-payments-cert.pub');
    expect(forRole.stderr).toContain(`wrote ${roleCertificate}`);
    const roleLine = readFileSync(roleCertificate, 'utf8');

    const serverPicked = await jitcaRun(['ssh-cert', '--reason', 'INC-8'], []);
    expect(serverPicked.status).toBe(0);
    expect(serverPicked.stderr).not.toMatch(/capped/);
    expect(serverPicked.stderr).toContain(`wrote ${path.join(sshDir, 'jitca_ed25519-cert.pub')}`);
    expect(readFileSync(roleCertificate, 'utf8')).toBe(roleLine);

    const hostile = await jitcaRun(['ssh-cert', '--role', '../../tmp/x', '--reason', 'INC-8'], []);
    expect(hostile.stderr).toMatch(/ERR_REQUEST_INVALID.*--role/);
    expect(readdirSync(sshDir).sort()).toEqual(['jitca_ed25519', 'jitca_ed25519-cert.pub', 'jitca_ed25519-oncall-payments', 'jitca_ed25519-oncall-payments-cert.pub', 'jitca_ed25519-oncall-payments.pub', 'jitca_ed25519.pub']);
  });
});
