import { closeSync, fstatSync, openSync, readFileSync, renameSync, writeFileSync, chmodSync, constants } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { HsmErrorCodes, HsmError } from './hsm-error.ts';

/**
 * Reads a PIN from a file that only its owner can read (like OpenSSH's StrictModes for private
 * keys): a PIN file readable by group or others is refused with ERR_CONFIG_INVALID, because the
 * fix is in deployment (chmod 600 / Secret defaultMode 0400), not in the PIN. One trailing newline
 * is dropped so `echo pin > file` works. Messages name the file, never its content.
 */
export function readPinFile(pinFile: string): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, hanging start-up
    // before the regular-file check below can refuse it (open(2)); regular files ignore the flag.
    fd = openSync(pinFile, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new HsmError(HsmErrorCodes.CONFIG_INVALID, `cannot read PIN file ${pinFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {
      details: { pinFile },
    });
  }
  try {
    // fstat the opened file: checking the path and then reading it would leave a swap window.
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new HsmError(HsmErrorCodes.CONFIG_INVALID, `PIN file ${pinFile} is not a regular file`, { details: { pinFile } });
    }
    if ((stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw new HsmError(
        HsmErrorCodes.CONFIG_INVALID,
        `PIN file ${pinFile} has mode ${mode}: group and others must have no access (use 0600 or 0400)`,
        { details: { pinFile, mode } },
      );
    }
    const pin = readFileSync(fd, 'utf8').replace(/\r?\n$/, '');
    if (pin === '') throw new HsmError(HsmErrorCodes.CONFIG_INVALID, `PIN file ${pinFile} is empty`, { details: { pinFile } });
    return pin;
  } finally {
    closeSync(fd);
  }
}

/** A fresh random PIN: 24 random bytes as base64url (32 characters, within SoftHSM2's 4-255). */
export function generatePin(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Writes a PIN file with mode 0600 atomically: a temporary file created 0600 with O_EXCL (never
 * briefly world-readable, whatever the umask), then renamed over the target.
 */
export function writePinFile(pinFile: string, pin: string): void {
  const temporary = path.join(path.dirname(pinFile), `.${path.basename(pinFile)}.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(temporary, `${pin}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(temporary, 0o600);
  renameSync(temporary, pinFile);
}
