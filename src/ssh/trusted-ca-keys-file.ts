import { parseSshPublicKey, type SshPublicKey } from './public-key.ts';

/**
 * The SSH user CA keys a TrustedUserCAKeys file lists, as sshd reads it: one key per line, blank
 * lines and `#` comments skipped. A line that is not a key throws the key parser's ERR_KEY_* code.
 */
export function sshKeysOfTrustFile(content: string): SshPublicKey[] {
  return content
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => parseSshPublicKey(line));
}
