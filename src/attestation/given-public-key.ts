import { createPublicKey, type KeyObject } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseSshPublicKey, sshPublicKeyToKeyObject, type SshPublicKey } from '../ssh/public-key.ts';

/** The key an attestation must be about, as the engineer gave it. */
export type GivenPublicKey =
  | { form: 'ssh'; ssh: SshPublicKey; publicKey: KeyObject }
  | { form: 'pem'; publicKey: KeyObject };

/**
 * An authorized_keys line ("type base64 [comment]") or a PEM "PUBLIC KEY" (SubjectPublicKeyInfo,
 * what `ykman piv keys export` writes). Errors are the SSH key codes (ERR_KEY_*) or
 * ERR_ATTESTATION_MALFORMED for a PEM that is not a public key.
 */
export function parseGivenPublicKey(text: string): GivenPublicKey {
  const trimmed = text.trim();
  if (!trimmed.startsWith('-----BEGIN')) {
    const ssh = parseSshPublicKey(trimmed);
    return { form: 'ssh', ssh, publicKey: sshPublicKeyToKeyObject(ssh) };
  }
  if (!/^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----$/.test(trimmed)) {
    throw new JitcaError(ErrorCodes.ATTESTATION_MALFORMED, 'PEM public key must be one "PUBLIC KEY" block (SubjectPublicKeyInfo)');
  }
  try {
    return { form: 'pem', publicKey: createPublicKey({ key: trimmed, format: 'pem' }) };
  } catch {
    throw new JitcaError(ErrorCodes.ATTESTATION_MALFORMED, 'PEM public key is not a key OpenSSL can read');
  }
}

/** Same key: the same SubjectPublicKeyInfo once both are re-encoded by OpenSSL (EC points uncompressed). */
export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
}

/** ERR_ATTESTATION_KEY_MISMATCH unless `given` is the X.509 (PIV) key `attested`; an sk-* key never is. */
export function assertGivenIsAttested(given: GivenPublicKey | undefined, attested: KeyObject, what: string): void {
  if (given === undefined) return;
  if ((given.form === 'ssh' && given.ssh.isSecurityKey) || !sameKey(given.publicKey, attested)) {
    throw new JitcaError(ErrorCodes.ATTESTATION_KEY_MISMATCH, `the attested ${what} is not the public key given`);
  }
}
