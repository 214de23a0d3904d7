import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/sshd.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

/** `jitca <args>` as an operator's shell would run it: umask 022 (the common default). */
function runWithUmask022(dataDir: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', ['-c', 'umask 022; exec "$@"', 'jitca', jitca, '--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const modeOf = (file: string): number => statSync(file).mode & 0o777;

/** Every file and directory under dir (dir itself excluded) with its mode. */
function modesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, file)] = modeOf(file).toString(8);
  }
  return out;
}

describe('files jitca creates are owner-only whatever the umask and the data directory', () => {
  let root: string;
  let dataDir: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'jitca-modes-'));
    dataDir = path.join(root, 'data');
    // The case from the report: the operator (or a package) made the directory, 0755.
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('init and serve under umask 022 in an existing 0755 directory: files 0600, directories 0700, the store\'s -wal and -shm included', async () => {
    const init = runWithUmask022(dataDir, ['init']);
    expect(init.status, init.stderr).toBe(0);
    // As an earlier version left it: the Kubernetes CA directory world-readable.
    chmodSync(path.join(dataDir, 'kube-client-ca'), 0o755);

    const port = await freePort();
    const server = spawn('bash', ['-c', 'umask 022; exec "$@"', 'jitca', jitca, '--data-dir', dataDir, 'serve', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    server.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise((resolve) => server.once('exit', resolve));
    try {
      let ready = false;
      for (let attempt = 0; attempt < 200 && !ready && server.exitCode === null; attempt++) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((response) => response.ok, () => false);
        if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(ready, stderr).toBe(true);
      // While serve runs, SQLite has its -wal and -shm files open next to the database.
      expect(existsSync(path.join(dataDir, 'jitca.sqlite-wal'))).toBe(true);
      expect(existsSync(path.join(dataDir, 'jitca.sqlite-shm'))).toBe(true);
      const modes = modesUnder(dataDir);
      for (const name of ['jitca.sqlite', 'jitca.sqlite-wal', 'jitca.sqlite-shm', 'policy.json', 'kube-client-ca/1.pem', 'hsm/user.pin', 'hsm/so.pin', 'hsm/softhsm2.conf']) {
        expect(modes[name], name).toBe('600');
      }
      for (const name of ['kube-client-ca', 'hsm', 'hsm/tokens']) expect(modes[name], name).toBe('700');
      // And nothing else, whatever it is, is open to group or others.
      expect(Object.entries(modes).filter(([, mode]) => (Number.parseInt(mode, 8) & 0o077) !== 0)).toEqual([]);
    } finally {
      server.kill('SIGTERM');
      await exited;
    }
  }, 60_000);

  it('refuses to start, naming the file, while a store or token file is readable by group or others; and changes nothing', async () => {
    // A port already taken: a serve that failed to refuse would stop there, not listen on.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = String((taken.address() as { port: number }).port);
    try {
      refusals(port);
    } finally {
      taken.close();
    }
    // Once the modes are right again, it starts as before.
    expect(runWithUmask022(dataDir, ['init']).status).toBe(0);
  }, 120_000);

  function refusals(port: string): void {
    for (const [name, mode] of [
      ['jitca.sqlite', 0o644],
      ['jitca.sqlite', 0o640],
      ['hsm/user.pin', 0o644],
    ] as const) {
      const file = path.join(dataDir, name);
      chmodSync(file, mode);
      try {
        for (const command of [['serve', '--port', port], ['init']]) {
          const result = runWithUmask022(dataDir, command);
          expect(result.status, `${command[0]} with ${name} ${mode.toString(8)}`).not.toBe(0);
          expect(result.stderr).toContain('ERR_CONFIG_INVALID');
          expect(result.stderr).toContain(file);
          expect(modeOf(file)).toBe(mode);
        }
      } finally {
        chmodSync(file, 0o600);
      }
    }
    const tokenObject = readdirSync(path.join(dataDir, 'hsm/tokens'), { recursive: true, withFileTypes: true }).find((entry) => entry.name === 'token.object');
    expect(tokenObject).toBeDefined();
    const tokenFile = path.join(tokenObject!.parentPath, tokenObject!.name);
    chmodSync(tokenFile, 0o604);
    try {
      const result = runWithUmask022(dataDir, ['serve', '--port', port]);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('ERR_CONFIG_INVALID');
      expect(result.stderr).toContain(tokenFile);
    } finally {
      chmodSync(tokenFile, 0o600);
    }
  }
});
