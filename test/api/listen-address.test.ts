import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { assertListenSafe, isLoopbackHost } from '../../src/api/listen-address.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { codeOf } from '../support/error-codes.ts';

describe('listening in clear', () => {
  it('counts only loopback addresses as loopback', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '::ffff:10.0.0.1', 'localhost.example.com', '127.0.0.1.nip.io', 'jitca']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });

  it('is refused off loopback unless TLS is configured or plaintext is explicitly allowed', () => {
    expect(codeOf(() => assertListenSafe('0.0.0.0', { allowPlaintext: false }))).toBe(ErrorCodes.CONFIG_INVALID);
    expect(codeOf(() => assertListenSafe('10.0.0.5', { allowPlaintext: false }))).toBe(ErrorCodes.CONFIG_INVALID);
    expect(codeOf(() => assertListenSafe('127.0.0.1', { allowPlaintext: false }))).toBeUndefined();
    expect(codeOf(() => assertListenSafe('0.0.0.0', { allowPlaintext: false, tls: { certFile: 'c', keyFile: 'k' } }))).toBeUndefined();
    expect(codeOf(() => assertListenSafe('0.0.0.0', { allowPlaintext: true }))).toBeUndefined();
  });

  it('jitca serve --host 0.0.0.0 without TLS stops before creating anything', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-listen-'));
    try {
      const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');
      const failure = await promisify(execFile)(jitca, ['--data-dir', dataDir, 'serve', '--host', '0.0.0.0'], { encoding: 'utf8', timeout: 30_000 }).then(
        () => undefined,
        (error: { code?: number; stderr?: string }) => error,
      );
      expect(failure?.code).toBe(2);
      expect(failure?.stderr).toMatch(/^jitca: ERR_CONFIG_INVALID: refusing to listen on 0\.0\.0\.0 without TLS/);
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
