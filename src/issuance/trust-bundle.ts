import type { CaKeyring } from '../../rotation/ca-keyring.ts';
import { formatAuthorizedKeysLine, sshPublicKeyFromKeyObject } from '../ssh/public-key.ts';

/**
 * TrustedUserCAKeys content: one line per trusted SSH user CA generation (the keyring's next,
 * active and retiring ones), so certificates of the outgoing and the incoming CA both verify
 * during a rotation's overlap. The comment names the generation for operators reading sshd's file.
 */
export function sshTrustBundle(source: { keyring: Pick<CaKeyring, 'trusted'> }): string {
  return source.keyring
    .trusted('ssh-user')
    .map(({ signer }) => `${formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(signer.publicKey), `jitca:${signer.keyId}`)}\n`)
    .join('');
}
