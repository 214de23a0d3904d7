import { sshCaSigners, type CaRuntime } from '../ca-runtime.ts';
import { formatAuthorizedKeysLine, sshPublicKeyFromKeyObject } from '../ssh/public-key.ts';

/**
 * TrustedUserCAKeys content: one line per SSH user CA generation in the token, so certificates of
 * the outgoing and the incoming CA both verify during a rotation's overlap. The comment names the
 * generation for operators reading sshd's file.
 */
export function sshTrustBundle(runtime: Pick<CaRuntime, 'token' | 'config'>): string {
  return sshCaSigners(runtime)
    .map((signer) => `${formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(signer.publicKey), `jitca:${signer.keyId}`)}\n`)
    .join('');
}
