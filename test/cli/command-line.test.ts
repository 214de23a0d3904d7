import { execFile, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');
const dir = mkdtempSync(path.join(tmpdir(), 'jitca-option-values-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) => spawnSync(jitca, args, { encoding: 'utf8', timeout: 30_000, env: { ...process.env, HOME: dir } });

describe('numeric and duration options are checked before a command acts', () => {
  it('serve --port abc is refused with a stable code, before the token, store or data directory exist', () => {
    const dataDir = path.join(dir, 'data');
    for (const port of ['abc', '65536', '-1', '80.5', '']) {
      const result = run(['--data-dir', dataDir, 'serve', '--port', port]);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: --port must be a port number, 0 to 65535, not /);
      expect(result.stderr).not.toMatch(/NaN/);
    }
    expect(existsSync(dataDir)).toBe(false);
  });

  it('ssh-cert --ttl that is not a duration generates no key and asks no server', () => {
    const clientConfig = path.join(dir, 'client.json');
    // Port 9 (discard) on loopback: nothing listens, so a request would fail differently.
    writeFileSync(clientConfig, JSON.stringify({ server: 'http://127.0.0.1:9', tokenCommand: ['/bin/echo', 'token'] }));
    const key = path.join(dir, 'id_test');
    const result = run(['ssh-cert', '--client-config', clientConfig, '--key', key, '--ttl', '30 minutes', '--reason', 'INC-1']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^jitca: ERR_TTL_INVALID: duration "30 minutes" is not valid/);
    expect(existsSync(key)).toBe(false);
  });
});

describe('jitca --version', () => {
  it('prints the version package.json declares, and nothing else', () => {
    const manifest = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = run([flag]);
      expect(result.status).toBe(0);
      expect(result.stdout).toBe(`${manifest.version}\n`);
    }
  });
});

describe('an ambiguous role is named with --role on the command line ("role" is the API field)', () => {
  it('policy evaluate says --role', () => {
    const example = path.resolve(import.meta.dirname, '../../deploy/policy.example.json');
    const result = run(['policy', 'evaluate', example, '--identity', 'bob', '--group', 'oncall-payments', '--group', 'sre', '--expect', 'deny']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ rule: 'role.ambiguous', message: expect.stringMatching(/name the one you need with --role$/) });
  });

  it('ssh-cert reports the server’s role.ambiguous refusal with --role', async () => {
    const refusal = { code: 'ERR_POLICY_DENIED', message: 'several roles are open to you (a, b); name the one you need in "role"', details: { rule: 'role.ambiguous' } };
    const server = createServer((_request, response) => response.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify(refusal)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const clientConfig = path.join(dir, 'ambiguous-client.json');
      writeFileSync(clientConfig, JSON.stringify({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tokenCommand: ['/bin/echo', 'token'] }));
      const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        execFile(jitca, ['ssh-cert', '--client-config', clientConfig, '--key', path.join(dir, 'id_ambiguous'), '--reason', 'INC-1'], { encoding: 'utf8', env: { ...process.env, HOME: dir } }, (error, _stdout, stderr) =>
          resolve({ status: error === null ? 0 : (error.code as number | null), stderr }),
        );
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toBe('jitca: ERR_POLICY_DENIED: several roles are open to you (a, b); name the one you need with --role [rule role.ambiguous]\n');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
