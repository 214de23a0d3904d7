/**
 * `jitca retention` killed mid-run (SIGKILL, a real child process) and run again: every request
 * past retention is exported exactly once and removed, nothing else is, and each batch's audit
 * record names a file whose SHA-256 it holds.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { openStore } from '../../src/store/store.ts';
import type { Store } from '../../src/store/types.ts';
import { issuedEntry } from '../store/store-fixtures.ts';

const root = path.resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-retention-'));
const exportDir = path.join(dataDir, 'export');
const sqlitePath = path.join(dataDir, 'jitca.sqlite');
const OLD = 120;
const RECENT = 10;

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function fill(store: Store): Promise<{ old: string[]; recent: string[] }> {
  const old = Array.from({ length: OLD }, (_, i) => `req-old-${String(i).padStart(4, '0')}`);
  const recent = Array.from({ length: RECENT }, (_, i) => `req-recent-${i}`);
  const now = new Date().toISOString();
  await Promise.all([
    ...old.map((id, i) => {
      const entry = issuedEntry(id);
      entry.request.createdAt = new Date(Date.parse('2023-01-01T00:00:00.000Z') + i * 60_000).toISOString();
      if (entry.certificate !== undefined) entry.certificate.validBefore = new Date(Date.parse(entry.request.createdAt) + 1_800_000).toISOString();
      return store.recordDecision(entry);
    }),
    ...recent.map((id) => {
      const entry = issuedEntry(id);
      entry.request.createdAt = now;
      return store.recordDecision(entry);
    }),
  ]);
  return { old, recent };
}

const retention = (): ReturnType<typeof spawn> =>
  spawn(path.join(root, 'bin/jitca'), ['--data-dir', dataDir, 'retention', '--export-dir', exportDir, '--batch', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });

const exportFiles = (): string[] => {
  try {
    return readdirSync(exportDir).filter((name) => name.endsWith('.jsonl'));
  } catch {
    return [];
  }
};

describe('jitca retention', () => {
  it('killed mid-run and run again: every old request exported exactly once and removed, the rest kept, each batch audited', async () => {
    const setup = await openStore({ sqlitePath, clock: fixedClock(Date.now()) });
    const { old, recent } = await fill(setup);
    await setup.close();

    const first = retention();
    const exited = new Promise<number | null>((resolve) => first.once('exit', (_code, signal) => resolve(signal === null ? 0 : 1)));
    for (let polls = 0; polls < 3000 && exportFiles().length < 3 && first.exitCode === null; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    first.kill('SIGKILL');
    await exited;

    const store = await openStore({ sqlitePath, clock: fixedClock(Date.now()) });
    try {
      const leftAfterKill = (await Promise.all(old.map((id) => store.getRequest(id)))).filter((request) => request !== undefined).length;
      // The kill landed mid-run: some batches done, some not.
      expect(leftAfterKill).toBeGreaterThan(0);
      expect(leftAfterKill).toBeLessThan(OLD);
    } finally {
      await store.close();
    }

    const second = spawnSync(path.join(root, 'bin/jitca'), ['--data-dir', dataDir, 'retention', '--export-dir', exportDir, '--batch', '2'], { encoding: 'utf8' });
    expect(second.stderr).toMatch(/^removed \d+ requests past retention/);
    expect(second.status).toBe(0);

    const exported = exportFiles().flatMap((name) =>
      readFileSync(path.join(exportDir, name), 'utf8').trimEnd().split('\n').map((line) => (JSON.parse(line) as { request: { id: string } }).request.id),
    );
    expect(exported.sort()).toEqual([...old].sort());

    const after = await openStore({ sqlitePath, clock: fixedClock(Date.now()) });
    try {
      for (const id of old) expect(await after.getRequest(id)).toBeUndefined();
      for (const id of recent) expect(await after.getRequest(id)).toBeDefined();
      expect((await after.verifyAudit()).ok).toBe(true);
      const pruned = (await after.listAudit({ limit: 10_000 })).filter((record) => record.type === 'retention.pruned');
      expect(pruned.map((record) => record.data['file']).sort()).toEqual(exportFiles().sort());
      for (const record of pruned) {
        const content = readFileSync(path.join(exportDir, String(record.data['file'])));
        expect(createHash('sha256').update(content).digest('hex')).toBe(record.data['sha256']);
      }
    } finally {
      await after.close();
    }
  });
});
