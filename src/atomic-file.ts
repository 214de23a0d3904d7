import { randomBytes } from 'node:crypto';
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Replaces `file` with `data` so that a reader (sshd, kubectl, the next jitca run) sees either the
 * old content or the new, never half a file: written to a fresh temporary file in the same
 * directory (created exclusively, so a planted file or symlink of that name is not followed),
 * given exactly `mode` (writeFileSync's mode is subject to the umask), then renamed over `file`.
 * On failure the temporary file is removed and `file` is left as it was.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode: number): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(temporary, data, { mode, flag: 'wx' });
    chmodSync(temporary, mode);
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
