/**
 * Database faults must surface as ERR_STORE_UNAVAILABLE (retryable), leave nothing half-written,
 * and the same store must work again once the fault clears. Faults are real SQLite errors:
 * SQLITE_BUSY from a lock held by a second connection, SQLITE_FULL from a full tmpfs (needs root
 * to mount; skipped otherwise), SQLITE_CANTOPEN from a missing directory. Files deleted or
 * replaced under an open store are not SQLite errors at all (SQLite goes on writing to the unlinked
 * files): the store itself must notice and refuse.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mountSmallTmpfs } from '../support/small-tmpfs.ts';
import { fixedClock } from '../../src/clock.ts';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { openStore } from '../../src/store/store.ts';
import { issuedEntry, makeTempDir, openTempStore, removeDir } from './store-fixtures.ts';
import type { TempStore } from './store-fixtures.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function openCleaned(dir?: string, busyTimeoutMs = 50): Promise<TempStore> {
  const t = await openTempStore(dir, { busyTimeoutMs });
  cleanups.push(() => removeDir(t.dir));
  cleanups.push(() => t.store.close());
  return t;
}

/** Every call failed as unavailable and retryable, because of the SQLite error we produced. */
function expectUnavailable(results: PromiseSettledResult<unknown>[], sqliteCode: RegExp): void {
  for (const result of results) {
    expect(result.status).toBe('rejected');
    const reason: unknown = result.status === 'rejected' ? result.reason : undefined;
    expect(isJitcaError(reason, ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
    expect(isJitcaError(reason) && reason.retryable).toBe(true);
    expect(isJitcaError(reason) ? reason.details?.dbCode : undefined).toMatch(sqliteCode);
  }
}

describe('database faults', () => {
  it('a write lock held elsewhere past busy_timeout -> ERR_STORE_UNAVAILABLE; works again once released', async () => {
    const { store, dbPath } = await openCleaned();
    await store.recordDecision(issuedEntry('req-before'));

    const blocker = new Database(dbPath);
    cleanups.push(() => {
      blocker.close();
    });
    blocker.exec('begin immediate');
    const results = await Promise.allSettled([
      store.recordDecision(issuedEntry('req-blocked-1')),
      store.recordDecision(issuedEntry('req-blocked-2')),
      store.appendAudit({ type: 'ca.rotated', actor: 'system', data: {} }),
    ]);
    expectUnavailable(results, /^SQLITE_BUSY/);
    // Reads still work under WAL while another connection holds the write lock.
    expect(await store.getRequest('req-blocked-1')).toBeUndefined();
    blocker.exec('rollback');

    expect(await store.getRequest('req-blocked-2')).toBeUndefined();
    expect(await store.listAudit()).toHaveLength(1);
    const after = await store.recordDecision(issuedEntry('req-blocked-1'));
    expect(after.seq).toBe(2);
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 2 });
  });

  it('disk full during a batch -> ERR_STORE_UNAVAILABLE for every entry, nothing written; works again after space is freed', async (context) => {
    const mountPoint = mountSmallTmpfs(context, cleanups);
    if (mountPoint === undefined) return;
    const clock = fixedClock(Date.parse('2025-03-01T12:00:00.000Z'));
    const store = await openStore({ sqlitePath: path.join(mountPoint, 'jitca.db'), clock });
    cleanups.push(() => store.close());
    await store.recordDecision(issuedEntry('req-before'));

    const fillerPath = path.join(mountPoint, 'filler');
    const fd = fs.openSync(fillerPath, 'w');
    try {
      const block = Buffer.alloc(4096);
      for (;;) fs.writeSync(fd, block);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }

    const big = (id: string) => {
      const entry = issuedEntry(id);
      if (entry.certificate) entry.certificate.certificate = 'A'.repeat(30000);
      return entry;
    };
    const results = await Promise.allSettled([store.recordDecision(big('req-full-1')), store.recordDecision(big('req-full-2'))]);
    expectUnavailable(results, /^SQLITE_FULL/);
    expect(store.stats().rollbacks).toBe(1);
    expect(await store.getRequest('req-full-1')).toBeUndefined();
    expect(await store.listAudit()).toHaveLength(1);

    fs.unlinkSync(fillerPath);
    const after = await store.recordDecision(big('req-full-1'));
    expect(after.seq).toBe(2);
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 2 });
  });

  it('a database that cannot be opened -> ERR_STORE_UNAVAILABLE, retryable', async () => {
    const dir = makeTempDir();
    cleanups.push(() => removeDir(dir));
    const error = await openStore({
      sqlitePath: path.join(dir, 'missing-volume', 'jitca.db'),
      clock: fixedClock(0),
    }).catch((e: unknown) => e);
    expect(isJitcaError(error, ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
    expect(isJitcaError(error) && error.retryable).toBe(true);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('the WAL deleted under an open store -> ERR_STORE_UNAVAILABLE for writes and reads; a restart keeps what was committed before', async () => {
    const { store, dir, dbPath } = await openCleaned();
    await store.recordDecision(issuedEntry('req-before-wal'));
    fs.rmSync(`${dbPath}-wal`);

    // SQLite would commit this into the unlinked WAL, and a crash would lose it with everything
    // not yet checkpointed (here: the whole database, schema included).
    const results = await Promise.allSettled([
      store.recordDecision(issuedEntry('req-after-wal-1')),
      store.recordDecision(issuedEntry('req-after-wal-2')),
      store.listAudit(),
    ]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect(isJitcaError(result.status === 'rejected' ? result.reason : undefined, ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
    }
    await store.close();

    // Closing checkpointed the still-open WAL into the database file: nothing acknowledged is lost.
    const reopened = await openCleaned(dir);
    expect((await reopened.store.listAudit()).map((record) => record.requestId)).toEqual(['req-before-wal']);
    expect(await reopened.store.verifyAudit()).toEqual({ ok: true, records: 1 });
    const after = await reopened.store.recordDecision(issuedEntry('req-after-wal-1'));
    expect(after.seq).toBe(2);
  });

  it('the database file replaced under an open store (a restore renamed over it) -> ERR_STORE_UNAVAILABLE, the new file untouched', async () => {
    const { store, dbPath } = await openCleaned();
    await store.recordDecision(issuedEntry('req-before-restore'));
    const restored = `${dbPath}.restored`;
    const copy = new Database(dbPath);
    copy.exec(`vacuum into '${restored}'`);
    copy.close();
    fs.renameSync(restored, dbPath);
    const error = await store.recordDecision(issuedEntry('req-after-restore')).catch((e: unknown) => e);
    expect(isJitcaError(error, ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
    const check = new Database(dbPath, { readonly: true });
    cleanups.push(() => {
      check.close();
    });
    expect(check.prepare('select request_id from audit_log').pluck().all()).toEqual(['req-before-restore']);
  });
});
