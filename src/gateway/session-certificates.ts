import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-file.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseCertificate, type ParsedSshCertificate } from '../ssh/certificate-parse.ts';

/**
 * The hand-over from `jitca gateway principals` to `jitca gateway session`: the principals command
 * (sshd's AuthorizedPrincipalsCommandUser, not the person logging in) writes the certificate sshd
 * verified into a directory only it can write, named by serial; the session, forced by sshd with
 * that serial, reads it back. The session never reads SSH_USER_AUTH or anything else the person
 * can write: that file is written as them (sshd(8)), so it says what they want it to.
 */
const SERIAL = /^(0|[1-9][0-9]{0,19})$/;

function fileOf(directory: string, serial: string): string {
  if (!SERIAL.test(serial)) throw refused('serial', `--serial must be a decimal certificate serial, not ${JSON.stringify(serial.slice(0, 24))}`);
  return path.join(directory, `${serial}.cert`);
}

/** Principals side: keep the certificate for the session sshd is about to force (world-readable: it is public). */
export function storeSessionCertificate(directory: string, certificate: ParsedSshCertificate): void {
  writeFileAtomic(fileOf(directory, certificate.serial.toString()), `${certificate.type} ${Buffer.from(certificate.blob).toString('base64')}\n`, 0o644);
}

/**
 * Session side: the certificate stored for `serial`. Refused when missing, when it names another
 * serial, or when the file or its directory is writable by anyone but its owner (the person could
 * then have put their own there).
 */
export function readSessionCertificate(directory: string, serial: string): ParsedSshCertificate {
  const file = fileOf(directory, serial);
  for (const target of [directory, file]) {
    let mode: number;
    try {
      mode = lstatSync(target).mode;
    } catch (error) {
      throw refused('certificate-missing', `no certificate is stored for serial ${serial} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if ((mode & 0o022) !== 0) throw refused('certificate-store', `${target} is writable by group or others; the session trusts only a store the user cannot write`);
  }
  const certificate = parseCertificate(readFileSync(file, 'utf8'));
  if (certificate.serial.toString() !== serial) throw refused('sshd-mismatch', `the certificate stored for serial ${serial} has serial ${certificate.serial}`);
  return certificate;
}

function refused(rule: string, message: string): JitcaError {
  return new JitcaError(ErrorCodes.GATEWAY_REFUSED, message, { details: { rule } });
}
