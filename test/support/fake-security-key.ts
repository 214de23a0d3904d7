import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { encodeBase64 } from '../../src/ssh/base64.ts';
import { sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { skSignedBytes } from '../../src/ssh/sk-signature.ts';
import { armourSshSig, sshsigSignedData } from '../../src/ssh/sshsig.ts';
import { SshWriter } from '../../src/ssh/wire.ts';

/**
 * Plays a FIDO authenticator (no hardware here): an sk key line and armoured SSHSIG signatures
 * with chosen flags, signed as the authenticator would (PROTOCOL.u2f, sk-signature.ts).
 */
export function fakeSecurityKey(kind: 'ed25519' | 'ecdsa'): { line: string; sign: (flags: number, namespace: string, message: Uint8Array) => string } {
  const application = 'ssh:';
  const pair = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const inner = sshPublicKeyFromKeyObject(pair.publicKey).blob;
  const type = kind === 'ed25519' ? 'sk-ssh-ed25519@openssh.com' : 'sk-ecdsa-sha2-nistp256@openssh.com';
  // The sk blob is the plain key's fields under the sk type name, then the application.
  const fields = inner.subarray(4 + Buffer.from(inner.subarray(0, 4)).readUInt32BE(0));
  const blob = new SshWriter(128).writeString(type).writeRaw(fields).writeString(application).toBytes();
  const sign = (flags: number, namespace: string, message: Uint8Array): string => {
    const counter = 7;
    const signed = skSignedBytes(application, flags, counter, sshsigSignedData(namespace, message));
    let sigBlob: Uint8Array;
    if (kind === 'ed25519') {
      sigBlob = nodeSign(null, signed, pair.privateKey);
    } else {
      const rs = nodeSign('sha256', signed, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
      sigBlob = new SshWriter(80).writeMpint(rs.subarray(0, 32)).writeMpint(rs.subarray(32)).toBytes();
    }
    const signature = new SshWriter(128).writeString(type).writeString(sigBlob).writeRaw(Uint8Array.of(flags)).writeUint32(counter).toBytes();
    return armourSshSig({ publicKeyBlob: blob, namespace, signature });
  };
  return { line: `${type} ${encodeBase64(blob)}`, sign };
}
