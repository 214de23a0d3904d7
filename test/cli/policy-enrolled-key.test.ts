import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runJitca } from '../support/jitca-cli.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'jitca-policy-enrolled-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runJitca;

function file(name: string, content: unknown): string {
  const target = path.join(dir, name);
  writeFileSync(target, typeof content === 'string' ? content : JSON.stringify(content));
  return target;
}

describe('jitca policy evaluate --enrolled-key', () => {
  const policy = file('policy.json', {
    version: 1,
    extensionDomain: 'jitca.dev',
    roles: [
      {
        name: 'piv-admin',
        groups: ['sre'],
        principals: ['root'],
        maxTtlSeconds: 600,
        scope: { clusters: ['prod'], namespaces: ['*'] },
        approval: { mode: 'auto' },
        key: { attested: 'piv', minPinPolicy: 'once', minTouchPolicy: 'always', minFirmware: '5.2.3' },
      },
    ],
  });
  const evaluate = (...extra: string[]) => run(['policy', 'evaluate', policy, '--identity', 'dana', '--group', 'sre', '--namespace', 'db', ...extra]);
  const piv = { kind: 'piv', attested: true, root: 'CN=Yubico PIV Root CA Serial 263751', firmware: '5.7.4', pinPolicy: 'once', touchPolicy: 'always' };

  it('decides with the enrollment facts given, naming the rule a key fails, and refuses a malformed file', async () => {
    expect(JSON.parse((await evaluate()).stdout)).toMatchObject({ outcome: 'deny', rule: 'key.enrolled' });
    expect(JSON.parse((await evaluate('--enrolled-key', file('good.json', piv))).stdout)).toMatchObject({ outcome: 'approve', role: 'piv-admin' });
    const cached = await evaluate('--enrolled-key', file('cached.json', { ...piv, touchPolicy: 'cached' }), '--expect', 'approve');
    expect(cached.status).toBe(1);
    expect(JSON.parse(cached.stdout)).toMatchObject({ outcome: 'deny', rule: 'key.touch-policy' });
    expect(JSON.parse((await evaluate('--enrolled-key', file('old.json', { ...piv, firmware: '4.3.7' }))).stdout)).toMatchObject({ rule: 'key.firmware' });
    expect(JSON.parse((await evaluate('--enrolled-key', file('soft.json', { kind: 'software', attested: true }))).stdout)).toMatchObject({ rule: 'key.attested' });
    const broken = await evaluate('--enrolled-key', file('broken.json', { kind: 'tpm' }));
    expect(broken.status).toBe(2);
    expect(broken.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: --enrolled-key .*"kind" must be one of/);
  });
});
