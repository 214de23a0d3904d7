/**
 * Crash safety (issue 19): a real rotator process SIGKILLed at each point of a forced cycle
 * (after the new key, after its row, after the promotion, after the retirement), then `apply`
 * run again converges: every key has its row, every row its key, one active generation. The
 * killed process's lock expires by the schedule's clock (the next run starts 5 minutes later).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';

const root = path.resolve(import.meta.dirname, '../..');
const child = path.join(root, 'test/support/rotation-child.ts');
const DAY = 86_400_000;

interface Outcome {
  signal: NodeJS.Signals | null;
  /** Absent when the kill came before the report (in the converging apply itself). */
  report?: { taken: string[]; rows: string[]; keys: number[] };
}

describe('a rotator killed between steps', () => {
  let ca: CaFixture;
  let configFile: string;
  let clockMs: number;

  beforeAll(async () => {
    ca = await createCaFixture();
    configFile = path.join(ca.dataDir, 'config.json');
    // The fixture's own runtime is closed: only the child processes use the token and the store.
    await ca.runtime.close();
    clockMs = Date.now() + 100 * DAY;
  });

  afterAll(async () => {
    await ca?.cleanup().catch(() => undefined);
  });

  function run(killAt: string): Outcome {
    clockMs += 5 * 60_000;
    const result = spawnSync(process.execPath, [child, configFile, String(clockMs), killAt], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    if (result.signal === null && result.status !== 0) throw new Error(`rotator failed: ${result.stderr}`);
    const line = result.stdout.split('\n')[0];
    return { signal: result.signal, ...(line ? { report: JSON.parse(line) as Outcome['report'] } : {}) };
  }

  function expectConverged(report: NonNullable<Outcome['report']>): void {
    const recorded = report.rows.map((row) => Number(row.split(':')[0]));
    expect(report.keys.filter((generation) => !recorded.includes(generation))).toEqual([]);
    expect(report.rows.filter((row) => !row.endsWith(':retired')).filter((row) => !report.keys.includes(Number(row.split(':')[0])))).toEqual([]);
    expect(report.rows.filter((row) => row.endsWith(':active'))).toHaveLength(1);
  }

  // Each run first converges (and reports), then is killed at the next point: one process per point.
  it('converges after a kill at each point of generate, promote and retire', () => {
    const afterKill: Record<string, string[]> = {};
    let previous = 'none';
    for (const killAt of ['key-generated', 'generate-recorded', 'promote-recorded', 'retire-recorded', 'none']) {
      const outcome = run(killAt);
      if (outcome.report !== undefined) {
        expectConverged(outcome.report);
        afterKill[previous] = outcome.report.taken;
      }
      expect([killAt, outcome.signal]).toEqual([killAt, killAt === 'none' ? null : 'SIGKILL']);
      previous = killAt;
    }
    // The key generated just before the kill was adopted (recorded as next), not left without a row;
    // the last run (no kill) reported, so the state after the last kill converged too.
    expect(afterKill['key-generated']?.[0]).toBe('adopt');
    expect(Object.keys(afterKill)).toContain('retire-recorded');
  });
});
