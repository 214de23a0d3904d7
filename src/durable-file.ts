import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** A file written piece by piece that appears under its name only once all of it is on disk. */
export interface DurableFileWriter {
  write(chunk: string): void;
  /** fsync, rename over the file, fsync the directory: after this the file survives a crash. */
  commit(): void;
  /** Removes the temporary file; the file of that name is left as it was. */
  abort(): void;
}

/**
 * For files something is deleted on the strength of (retention's exports, audit archives): written
 * to `<file>.<pid>.tmp`, fsynced, renamed over `file`, and the directory fsynced, so a process
 * killed at any point leaves either the whole file or none (the old one, or a stray .tmp), and a
 * crash after commit() cannot lose it.
 */
export function createDurableFile(file: string, mode = 0o600): DurableFileWriter {
  const temporary = `${file}.${process.pid}.tmp`;
  let fd: number | undefined = openSync(temporary, 'w', mode);
  const abort = (): void => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    rmSync(temporary, { force: true });
  };
  return {
    write(chunk: string): void {
      if (fd === undefined) throw new Error(`${temporary} is already closed`);
      try {
        writeSync(fd, chunk);
      } catch (error) {
        abort();
        throw error;
      }
    },
    commit(): void {
      if (fd === undefined) throw new Error(`${temporary} is already closed`);
      try {
        fsyncSync(fd);
      } catch (error) {
        abort();
        throw error;
      }
      closeSync(fd);
      fd = undefined;
      renameSync(temporary, file);
      const directory = openSync(path.dirname(file), 'r');
      try {
        fsyncSync(directory);
      } finally {
        closeSync(directory);
      }
    },
    abort,
  };
}

/** The whole of `content` as a durable file (see createDurableFile). */
export function writeFileDurably(file: string, content: string, mode = 0o600): void {
  const writer = createDurableFile(file, mode);
  writer.write(content);
  writer.commit();
}
