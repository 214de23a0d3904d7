import { hash, verify as nodeVerify } from 'node:crypto';
import { JitcaError } from '../errors.ts';
import { keyMaterialToKeyObject, type KeyMaterial } from './key-material.ts';
import { SshReader, SshWriter } from './wire.ts';

/**
 * Security-key (FIDO) signatures, PROTOCOL.u2f "Signature formats":
 *   string  "sk-ssh-ed25519@openssh.com" | "sk-ecdsa-sha2-nistp256@openssh.com"
 *   string  signature (Ed25519: 64 bytes; ECDSA: mpint r, mpint s)
 *   byte    flags
 *   uint32  counter
 * The authenticator signs SHA256(application) || flags || counter || SHA256(message), not the
 * message itself (ssh-ed25519-sk.c, ssh-ecdsa-sk.c); ECDSA hashes that with SHA-256 once more.
 */

/** FIDO flag: a person touched the authenticator for this signature (CTAP2 "UP"). */
export const SK_FLAG_USER_PRESENT = 0x01;

export interface SkSignature {
  algorithm: string;
  blob: Uint8Array;
  flags: number;
  counter: number;
}

export function decodeSkSignature(encoded: Uint8Array): SkSignature {
  const reader = new SshReader(encoded);
  const algorithm = Buffer.from(reader.readString()).toString('latin1');
  const blob = reader.readString();
  const flags = reader.readBytes(1)[0] ?? 0;
  const counter = reader.readUint32();
  reader.ensureEnd('security key signature');
  return { algorithm, blob, flags, counter };
}

/** The bytes the authenticator signed for `message` (exported for tests that play the authenticator). */
export function skSignedBytes(application: string, flags: number, counter: number, message: Uint8Array): Uint8Array {
  return new SshWriter(80)
    .writeRaw(hash('sha256', Buffer.from(application, 'latin1'), 'buffer'))
    .writeRaw(Uint8Array.of(flags))
    .writeUint32(counter)
    .writeRaw(hash('sha256', message, 'buffer'))
    .toBytes();
}

/** True when `signature` is a valid sk signature over `message` by the sk key `material`. */
export function verifySkSignature(material: KeyMaterial, signature: SkSignature, message: Uint8Array): boolean {
  if (material.kind !== 'sk-ed25519' && material.kind !== 'sk-ecdsa') return false;
  const signed = skSignedBytes(material.application, signature.flags, signature.counter, message);
  const key = keyMaterialToKeyObject(material);
  try {
    if (material.kind === 'sk-ed25519') {
      return (
        signature.algorithm === 'sk-ssh-ed25519@openssh.com' &&
        signature.blob.length === 64 &&
        nodeVerify(null, signed, key, signature.blob)
      );
    }
    if (signature.algorithm !== 'sk-ecdsa-sha2-nistp256@openssh.com') return false;
    const reader = new SshReader(signature.blob);
    const r = reader.readMpintUnsignedBytes();
    const s = reader.readMpintUnsignedBytes();
    reader.ensureEnd('ECDSA signature blob');
    if (r.length > 32 || s.length > 32) return false;
    const rs = new Uint8Array(64);
    rs.set(r, 32 - r.length);
    rs.set(s, 64 - s.length);
    return nodeVerify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, rs);
  } catch (error) {
    if (error instanceof JitcaError) throw error;
    return false;
  }
}

