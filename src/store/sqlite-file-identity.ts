/**
 * Notices when the SQLite database file or its WAL is deleted or replaced while jitca has it open.
 *
 * SQLite keeps writing to the files it opened, not to their names. Once someone removes jitca.db-wal
 * (a clean-up script, a restore that copies only jitca.db), every COMMIT still succeeds, fsync and
 * all, into a file no one can open again: after a crash the records since the last checkpoint are
 * gone, however many certificates were released against them (a fresh database holds not even the
 * schema if it was never checkpointed). SQLite only refuses such writes in rollback-journal mode
 * (SQLITE_READONLY_DBMOVED, https://sqlite.org/rescode.html#readonly_dbmoved), never in WAL mode.
 * So the store compares the files behind the names with the ones it opened, before each use and
 * after each COMMIT, and stops (ERR_STORE_UNAVAILABLE) instead of acknowledging a write that is
 * not durable. A restart opens the files the names now point to.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { storeUnavailable } from './store-errors.ts';

export interface SqliteFileIdentity {
  /** Throws ERR_STORE_UNAVAILABLE when the database or WAL file jitca opened is no longer at its name. */
  assertUnmoved(): void;
}

interface FileId {
  dev: number;
  ino: number;
}

function fileIdOf(file: string): FileId | undefined {
  const stat = statSync(file, { throwIfNoEntry: false });
  return stat === undefined ? undefined : { dev: stat.dev, ino: stat.ino };
}

/**
 * Call right after the database was opened in WAL mode (SQLite has then created the -wal file).
 * An in-memory or temporary database (":memory:", "") has no files to watch.
 */
export function watchSqliteFiles(databasePath: string): SqliteFileIdentity {
  if (databasePath === ':memory:' || databasePath === '' || databasePath.startsWith('file:')) return { assertUnmoved: () => undefined };
  const files = [path.resolve(databasePath), `${path.resolve(databasePath)}-wal`];
  const opened = files.map(fileIdOf);
  return {
    assertUnmoved(): void {
      for (const [index, file] of files.entries()) {
        const was = opened[index];
        const now = fileIdOf(file);
        // A WAL that did not exist yet at open is taken as it first appears.
        if (was === undefined) {
          opened[index] = now;
          continue;
        }
        if (now === undefined || now.dev !== was.dev || now.ino !== was.ino) {
          throw storeUnavailable(
            `SQLite file ${file} was deleted or replaced while jitca had it open; writes to it would not be durable, so none are made: restart jitca`,
          );
        }
      }
    },
  };
}
