/**
 * `jitca audit export --archive` and `jitca audit truncate` killed mid-run (SIGKILL, real child
 * processes) and run again: the log in the database verifies after every kill, is either whole or
 * truncated exactly at the archive's end, and at the end archive and database verify as one chain
 * through `jitca audit verify --archive`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { openStore } from '../../src/store/store.ts';
import type { Store } from '../../src/store/types.ts';
import { JITCA_BIN, runJitca } from '../support/jitca-cli.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-audit-archive-'));
const sqlitePath = path.join(dataDir, 'jitca.sqlite');
const archive = path.join(dataDir, 'archive', 'audit-1.jsonl');
/** Enough that writing the archive and deleting the rows take a while to kill into. */
const OLD = 10_000;
const RECENT = 5;

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ sqlitePath, clock: fixedClock(Date.now()) });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

async function fill(): Promise<void> {
  // Old enough for retention.auditMinAgeDays' default (400 days), then a few from today.
  const old = await openStore({ sqlitePath, clock: fixedClock(Date.parse('2023-01-01T00:00:00.000Z')) });
  for (let i = 0; i < OLD; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, j) => old.appendAudit({ type: 'ca.rotated', actor: 'system', data: { i: i + j } })));
  }
  await old.close();
  await withStore(async (store) => {
    for (let i = 0; i < RECENT; i++) await store.appendAudit({ type: 'ca.rotated', actor: 'system', data: { recent: i } });
  });
}

/** Starts the command and SIGKILLs it once `ready` holds (or it ended by itself); true when the kill landed. */
async function killWhen(args: string[], ready: () => boolean): Promise<boolean> {
  const child = spawn(JITCA_BIN, ['--data-dir', dataDir, ...args], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  for (let polls = 0; polls < 6000 && child.exitCode === null && !ready(); polls++) await sleep(5);
  child.kill('SIGKILL');
  return (await exited) === 'SIGKILL';
}

/** Whole, or truncated exactly at the archive's end; verifying either way. */
async function expectWholeOrTruncated(): Promise<'whole' | 'truncated'> {
  return withStore(async (store) => {
    expect((await store.verifyAudit()).ok).toBe(true);
    const checkpoint = await store.auditCheckpoint();
    const [first] = await store.listAudit({ limit: 1 });
    if (checkpoint === undefined) {
      expect(first?.seq).toBe(1);
      return 'whole';
    }
    expect(checkpoint.seq).toBe(OLD);
    expect(first?.seq).toBe(OLD + 1);
    return 'truncated';
  });
}

describe('jitca audit export --archive and audit truncate', () => {
  it('killed mid-run and run again: the log verifies after every kill, and archive and database verify as one chain at the end', async () => {
    await fill();

    // Killed while the archive is being written (a file for it exists): no archive, nothing recorded.
    mkdirSync(path.dirname(archive), { recursive: true });
    const writing = (): boolean => readdirSync(path.dirname(archive)).some((name) => name.startsWith(path.basename(archive)));
    const exportKilled = await killWhen(['audit', 'export', '--archive', archive], writing);
    expect(exportKilled).toBe(true);
    expect(existsSync(archive)).toBe(false);
    expect(await withStore(async (store) => (await store.listAudit({ afterSeq: OLD + RECENT })).filter((r) => r.type === 'audit.archived'))).toEqual([]);
    expect(await expectWholeOrTruncated()).toBe('whole');

    const exported = await runJitca(['--data-dir', dataDir, 'audit', 'export', '--archive', archive]);
    expect(exported.stderr).toMatch(new RegExp(`^audit: archived ${OLD} records \\(seq 1\\.\\.${OLD}\\)`));
    expect(exported.status).toBe(0);

    // Killed while truncating, as the database starts to change (its WAL grows): whole or truncated, never between.
    const wal = `${sqlitePath}-wal`;
    const walSize = (): number => (existsSync(wal) ? statSync(wal).size : 0);
    const sizeBefore = walSize();
    const truncateKilled = await killWhen(['audit', 'truncate', '--archive', archive], () => walSize() > sizeBefore);
    const afterKill = await expectWholeOrTruncated();
    // The kill landed in a running truncation (which may or may not have committed).
    expect(truncateKilled).toBe(true);

    const truncated = await runJitca(['--data-dir', dataDir, 'audit', 'truncate', '--archive', archive]);
    expect(truncated.status).toBe(0);
    expect(truncated.stdout).toMatch(
      afterKill === 'whole' ? new RegExp(`^audit: removed ${OLD} records`) : new RegExp(`^audit: already truncated through checkpoint ${OLD}:`),
    );
    expect(await expectWholeOrTruncated()).toBe('truncated');

    const verified = await runJitca(['--data-dir', dataDir, 'audit', 'verify', '--archive', archive]);
    expect(verified.stdout).toMatch(/chain intact/);
    expect(verified.status).toBe(0);
  }, 90_000);
});
