import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

describe('jitca audit export into a pipe its reader closes', () => {
  let ca: CaFixture;

  beforeAll(async () => {
    ca = await createCaFixture();
    // Far more than a pipe buffer (64 KiB on Linux) plus what head reads before it exits, so the
    // export is still writing when head closes its end.
    for (let index = 0; index < 100; index++) {
      await ca.runtime.store.appendAudit({ type: 'policy.loaded', actor: 'test', data: { filler: 'x'.repeat(16 * 1024), index } });
    }
    await ca.runtime.close();
  });
  afterAll(() => {
    if (ca !== undefined) rmSync(ca.dataDir, { recursive: true, force: true });
  });

  it('`| head -n 1` prints one record and jitca exits 0 without a word on stderr', () => {
    const result = spawnSync('bash', ['-c', '"$0" --data-dir "$1" audit export | head -n 1; exit "${PIPESTATUS[0]}"', jitca, ca.dataDir], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ seq: 1 });
  });
});
