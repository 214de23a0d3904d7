import { chmodSync, closeSync, constants, existsSync, fchmodSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ErrorCodes, JitcaError } from './errors.ts';

/**
 * Modes for what jitca keeps under its data directory (the store with every certificate, identity
 * and audit record, the token, its PINs): owner only. Set explicitly, because a mode passed to
 * open(2) or mkdir(2) is filtered by the umask and a file another library creates (SQLite) gets
 * that library's default (0644), whatever the directory it lands in.
 */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIRECTORY_MODE = 0o700;

/**
 * Creates a directory of jitca's own (and missing parents) mode 0700, and tightens it when it
 * exists looser (made by an earlier version, or by hand).
 */
export function ensurePrivateDirectory(directory: string): void {
  mkdirSync(directory, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  if ((statSync(directory).mode & 0o077) !== 0) chmodSync(directory, PRIVATE_DIRECTORY_MODE);
}

/**
 * Creates `file` empty with mode 0600 unless it exists, so that the library that opens it next by
 * name finds it private. Created exclusively and without following a symlink at that name; a
 * missing directory is left for the caller's open to report as it always has.
 */
export function createPrivateFileIfMissing(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, PRIVATE_FILE_MODE);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT') return;
    throw error;
  }
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses to go on with a secret file that group or others may access: someone else may already
 * have read it, so the fix (chmod, and finding out who did) is the operator's, not a silent chmod.
 * A file that does not exist passes. The message names the path and mode, never the content.
 */
export function assertPrivateFile(file: string, what: string): void {
  // stat, not lstat: what matters is the file a name leads to (a symlink's own mode means nothing).
  const stat = statSync(file, { throwIfNoEntry: false });
  if (stat === undefined || (stat.mode & 0o077) === 0) return;
  const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
  throw new JitcaError(
    ErrorCodes.CONFIG_INVALID,
    `${what} ${file} has mode ${mode}: group and others must have no access; chmod 600 it (and find out who could read it)`,
    { details: { path: file, mode } },
  );
}

/**
 * assertPrivateFile for every file under `directory` (the token's object files, its PINs). The
 * directories themselves are tightened by whoever ensures them, as ensurePrivateDirectory does.
 */
export function assertPrivateFilesUnder(directory: string, what: string): void {
  if (!existsSync(directory)) return;
  for (const entry of readdirSync(directory, { withFileTypes: true, recursive: true })) {
    if (!entry.isDirectory()) assertPrivateFile(path.join(entry.parentPath, entry.name), what);
  }
}

/** Where the embedded SoftHSM2 token, its configuration and PIN files live (hsm/softhsm-bootstrap.ts). */
export function embeddedTokenDirectory(config: { dataDir: string }): string {
  return path.join(path.resolve(config.dataDir), 'hsm');
}
