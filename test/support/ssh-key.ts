import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TempSshKey {
  dir: string;
  /** Private key file; the public key is `${keyPath}.pub`. */
  keyPath: string;
  /** The authorized_keys line of the public key. */
  publicKey: string;
  cleanup(): void;
}

/** A fresh Ed25519 key from the real ssh-keygen, in its own temp dir. */
export function createTempSshKey(prefix = 'jitca-key-'): TempSshKey {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const keyPath = path.join(dir, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
  return {
    dir,
    keyPath,
    publicKey: readFileSync(`${keyPath}.pub`, 'utf8').trim(),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
