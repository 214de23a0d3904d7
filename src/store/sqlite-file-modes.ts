import { assertPrivateFile, createPrivateFileIfMissing } from '../private-files.ts';

/**
 * The SQLite store holds every certificate, identity and audit record. SQLite creates a new
 * database with mode 0644 less the umask, and its -wal and -shm files with the database's mode,
 * so a store created in a 0755 directory under umask 022 was readable by everyone on the host.
 * Before SQLite opens it: refuse an existing store file that group or others may access, and
 * create a missing database empty with mode 0600 (SQLite takes an empty file as a new database),
 * which its -wal and -shm then inherit. In-memory and URI databases have no such files.
 */
export function prepareSqliteFiles(databasePath: string): void {
  if (databasePath === ':memory:' || databasePath === '' || databasePath.startsWith('file:')) return;
  for (const file of [databasePath, `${databasePath}-wal`, `${databasePath}-shm`, `${databasePath}-journal`]) {
    assertPrivateFile(file, 'SQLite store file');
  }
  createPrivateFileIfMissing(databasePath);
}
