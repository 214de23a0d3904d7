import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadClientConfig } from '../../src/client/client-config.ts';
import { buildConfig } from '../../src/config.ts';
import { isJitcaError } from '../../src/errors.ts';

function expectJitcaError(run: () => unknown, code: string, message: RegExp): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(isJitcaError(thrown) ? thrown.code : String(thrown)).toBe(code);
  expect((thrown as Error).message).toMatch(message);
}

const dir = mkdtempSync(path.join(tmpdir(), 'jitca-client-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const target = path.join(dir, name);
  writeFileSync(target, text);
  return target;
}

describe('the helper configuration (client.json)', () => {
  it('drops trailing slashes from the server URL, so "/v1/..." is joined to it once', () => {
    for (const server of ['http://127.0.0.1:8443/', 'http://127.0.0.1:8443//']) {
      expect(loadClientConfig(file('slash.json', JSON.stringify({ server })), {}).server).toBe('http://127.0.0.1:8443');
    }
    expect(loadClientConfig(file('prefix.json', JSON.stringify({ server: 'https://ca.example/jitca/' })), {}).server).toBe('https://ca.example/jitca');
  });

  it('says whether the file is missing or not JSON, never quoting its text', () => {
    expectJitcaError(() => loadClientConfig(path.join(dir, 'absent.json'), {}), 'ERR_CONFIG_INVALID', /absent\.json does not exist: write it .*--client-config/);
    const broken = file('broken.json', '{"server": "http://x", "tokenCommand": ["secret-argv" }');
    expectJitcaError(() => loadClientConfig(broken, {}), 'ERR_CONFIG_INVALID', /broken\.json is not valid JSON/);
    expect(() => loadClientConfig(broken, {})).not.toThrow(/secret-argv|does not exist/);
  });
});

describe('the CA configuration (--config)', () => {
  it('says whether the file is missing or not JSON', () => {
    expectJitcaError(() => buildConfig({ configFile: path.join(dir, 'none.json'), dataDir: dir }), 'ERR_CONFIG_INVALID', /none\.json does not exist$/);
    expectJitcaError(() => buildConfig({ configFile: file('bad.json', '{\n  "dataDir": ,\n}'), dataDir: dir }), 'ERR_CONFIG_INVALID', /bad\.json is not valid JSON$/);
  });
});
