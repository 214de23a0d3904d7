import type { SshKeyType } from './key-material.ts';

/** PROTOCOL.certkeys "New public key formats". */
export const SSH_CERT_TYPE_USER = 1;
export const SSH_CERT_TYPE_HOST = 2;

/** Certificate key type for each supported plain key type (PROTOCOL.certkeys, PROTOCOL.u2f). */
const CERT_TYPE_BY_KEY_TYPE: Record<SshKeyType, string> = {
  'ssh-ed25519': 'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256': 'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384': 'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ssh-rsa': 'ssh-rsa-cert-v01@openssh.com',
  'sk-ssh-ed25519@openssh.com': 'sk-ssh-ed25519-cert-v01@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com': 'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com',
};

export function certificateTypeFor(keyType: SshKeyType): string {
  return CERT_TYPE_BY_KEY_TYPE[keyType];
}

export function keyTypeForCertificateType(certType: string): SshKeyType | undefined {
  for (const [keyType, name] of Object.entries(CERT_TYPE_BY_KEY_TYPE) as [SshKeyType, string][]) {
    if (name === certType) return keyType;
  }
  return undefined;
}
