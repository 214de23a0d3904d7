/**
 * The audit log archived and truncated behind checkpoints on the SQLite store (the cases are in
 * audit-archive-cases.ts; PostgreSQL runs them in postgres-store.test.ts). The tampering goes through a second connection to the file, as a
 * database shell would.
 */
import Database from 'better-sqlite3';
import { describe, it } from 'vitest';
import { checkAuditArchive } from './audit-archive-cases.ts';
import { openTempStore, removeDir } from './store-fixtures.ts';

function tamperer(dbPath: string): (statement: string) => Promise<void> {
  return (statement) => {
    const db = new Database(dbPath);
    try {
      db.prepare(statement).run();
    } finally {
      db.close();
    }
    return Promise.resolve();
  };
}

describe('audit archive and truncation (SQLite)', () => {
  it('archives, truncates behind a checkpoint, verifies from it and end to end, and detects a changed row, checkpoint or archive', async () => {
    const { store, clock, dbPath, dir } = await openTempStore();
    try {
      await checkAuditArchive(store, clock, tamperer(dbPath));
    } finally {
      await store.close();
      removeDir(dir);
    }
  });
});
