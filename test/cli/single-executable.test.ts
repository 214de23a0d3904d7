/**
 * The client as one executable (scripts/build-client): built once, then run the way an engineer's
 * laptop or an SSH host runs it, from an empty directory with no node on PATH and no
 * node_modules anywhere above, against a real API on loopback.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { sshTrustBundle } from '../../src/issuance/trust-bundle.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

describe('the client as a single executable', () => {
  let dir: string;
  let exe: string;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  let ca: CaFixture;
  let app: FastifyInstance;
  let server: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-sea-'));
    const built = promisify(execFile)(path.join(ROOT, 'scripts/build-client'), [path.join(dir, 'out')], { encoding: 'utf8' });
    // Awaited below, after the API starts; a failed build must fail this hook, not surface as an unhandled rejection first.
    built.catch(() => undefined);
    ca = await createCaFixture();
    app = buildApp(ca.runtime, { authenticator: createApiAuthenticator(undefined, undefined), logger: false });
    server = await app.listen({ host: '127.0.0.1', port: 0 });
    expect((await built).stdout).toMatch(/jitca \d+ MB/);
    exe = path.join(dir, 'out', 'jitca');
    // The only tools on PATH are OpenSSH's: no node, and the home and working directory are empty.
    cwd = path.join(dir, 'empty');
    const bin = path.join(dir, 'bin');
    mkdirSync(cwd);
    mkdirSync(bin);
    for (const tool of ['ssh-keygen', 'ssh-add']) symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), path.join(bin, tool));
    env = { PATH: bin, HOME: cwd };
  }, 90_000);
  afterAll(async () => {
    await app?.close();
    await ca?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const run = (args: string[]) => promisify(execFile)(exe, args, { cwd, env, encoding: 'utf8', timeout: 30_000 });

  it('is one file run without node or node_modules: the environment it is tested in has neither', async () => {
    expect(statSync(exe).size).toBeGreaterThan(10 * 1024 * 1024);
    for (const pathDir of env.PATH!.split(':')) expect(readdirSync(pathDir)).not.toContain('node');
    expect(path.relative(ROOT, cwd).startsWith('..')).toBe(true);
  });

  it('prints its version and the client commands only', async () => {
    expect((await run(['--version'])).stdout.trim()).toBe(manifest.version);
    const help = (await run(['--help'])).stdout;
    for (const command of ['login', 'ssh-cert', 'kube-credential', 'kubeconfig', 'trust-sync', 'enroll', 'keys', 'requests', 'approve', 'deny', 'whoami', 'status', 'logout', 'attestation']) {
      expect(help).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    for (const command of ['serve', 'init', 'issue-ssh', 'controller', 'rotate', 'audit']) expect(help).not.toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('trust-sync writes the CA keys the API publishes', async () => {
    const caFile = path.join(cwd, 'trusted_user_ca_keys');
    await run(['trust-sync', '--server', server, '--ca-file', caFile, '--host', 'sea-test']);
    expect(readFileSync(caFile, 'utf8')).toBe(sshTrustBundle(ca.runtime));
  });

  it('kubeconfig makes kubectl run this executable (there is no checkout beside it)', async () => {
    const { stdout } = await run(['kubeconfig', '--cluster', 'prod', '--server', 'https://127.0.0.1:6443', '--client-config', '/dev/null']);
    expect(stdout).toContain(`command: ${JSON.stringify(exe)}`);
  });

  it('attestation verify reads the shipped attestation roots from the executable (it refuses only the missing input)', async () => {
    const refused = await run(['attestation', 'verify']).then(() => undefined, (error: { code: number; stderr: string }) => error);
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/^jitca: ERR_[A-Z_]+: give exactly one of --piv-slot/);
  });
});
