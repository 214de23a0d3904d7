import { verify as nodeVerify, type KeyObject } from 'node:crypto';
import type { HashName, Signer } from '../keys/signer.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { keyMaterialToKeyObject, type KeyMaterial } from './key-material.ts';
import { decodePublicKeyBlob, sshPublicKeyFromKeyObject } from './public-key.ts';
import { SshReader, SshWriter } from './wire.ts';

/**
 * SSH signatures made by a CA key (PROTOCOL.certkeys: "Signatures are computed and encoded
 * according to the rules defined for the CA's public key algorithm"):
 *   string  signature format name
 *   string  signature blob
 * Ed25519: RFC 8709 §6 (64 raw bytes). ECDSA: RFC 5656 §3.1.2 (blob = mpint r, mpint s; SHA-256
 * for nistp256, SHA-384 for nistp384). RSA: RFC 8332 §3 (rsa-sha2-512 / rsa-sha2-256, blob = raw
 * PKCS#1 v1.5 signature). sk-* keys cannot be CA keys here: an HSM-backed CA never is one.
 */

interface Scheme {
  algorithm: string;
  hash?: HashName;
  /** Raw r||s half size for ECDSA (Signer output, PKCS#11 CKM_ECDSA). */
  ecSize?: number;
}

/** What jitca signs with for each CA key kind. */
function signingScheme(material: KeyMaterial): Scheme {
  switch (material.kind) {
    case 'ed25519':
      return { algorithm: 'ssh-ed25519' };
    case 'ecdsa':
      return material.curve === 'nistp256'
        ? { algorithm: 'ecdsa-sha2-nistp256', hash: 'sha256', ecSize: 32 }
        : { algorithm: 'ecdsa-sha2-nistp384', hash: 'sha384', ecSize: 48 };
    case 'rsa':
      // rsa-sha2-512: OpenSSH refuses SHA-1 "ssh-rsa" CA signatures since 8.2/8.8.
      return { algorithm: 'rsa-sha2-512', hash: 'sha512' };
    case 'sk-ed25519':
    case 'sk-ecdsa':
      throw new JitcaError(ErrorCodes.KEY_UNSUPPORTED, 'security-key (sk-*) keys cannot be used as a CA key here');
  }
}

/** What signing with one CA key needs, all derived from its public key alone. */
export interface SshCaKey {
  /** The CA key's SSH wire blob (the certificate's "signature key" field). */
  blob: Uint8Array;
  material: KeyMaterial;
  scheme: Scheme;
}

/**
 * Derived once per KeyObject (immutable), since the same CA signs every certificate: decoding
 * the CA key and picking its scheme per signature was pure repetition. Nothing about the
 * signature itself is cached.
 */
const caKeys = new WeakMap<KeyObject, SshCaKey>();

export function sshCaKey(publicKey: KeyObject): SshCaKey {
  let cached = caKeys.get(publicKey);
  if (cached === undefined) {
    const { blob } = sshPublicKeyFromKeyObject(publicKey);
    const { material } = decodePublicKeyBlob(blob);
    cached = { blob, material, scheme: signingScheme(material) };
    caKeys.set(publicKey, cached);
  }
  return cached;
}

/** Options handed to Signer.sign for each hash (one object each instead of one per signature). */
const SIGN_OPTIONS: Readonly<Record<HashName | 'none', Readonly<{ hash?: HashName }>>> = {
  none: Object.freeze({}),
  sha256: Object.freeze({ hash: 'sha256' }),
  sha384: Object.freeze({ hash: 'sha384' }),
  sha512: Object.freeze({ hash: 'sha512' }),
};

/** Signs `data` with the CA and returns the encoded SSH signature (the certificate's last field). */
export async function signAsSsh(ca: Signer, data: Uint8Array): Promise<Uint8Array> {
  const { material, scheme } = sshCaKey(ca.publicKey);
  const raw = await ca.sign(data, SIGN_OPTIONS[scheme.hash ?? 'none']);
  let blob: Uint8Array;
  if (material.kind === 'ed25519') {
    if (raw.length !== 64) throw badSignerOutput(`Ed25519 signature is ${raw.length} bytes, expected 64`);
    blob = raw;
  } else if (scheme.ecSize !== undefined) {
    if (raw.length !== 2 * scheme.ecSize) {
      throw badSignerOutput(`ECDSA signature is ${raw.length} bytes, expected r||s of ${2 * scheme.ecSize}`);
    }
    blob = new SshWriter(16 + 2 * scheme.ecSize)
      .writeMpint(raw.subarray(0, scheme.ecSize))
      .writeMpint(raw.subarray(scheme.ecSize))
      .toBytes();
  } else {
    blob = raw;
  }
  // A faulty token would otherwise hand out a certificate sshd silently refuses, and a faulty
  // RSA-CRT signature leaks the private key (Boneh-DeMillo-Lipton) if released. A signer that
  // checked this very array where it signed (the PKCS#11 backend's signing thread) says so;
  // anything else is checked here, on the libuv thread pool (callback form of crypto.verify).
  if (ca.checkedSignature?.(raw) !== true && !(await verifyRawSignature(ca.publicKey, scheme, data, raw))) {
    throw badSignerOutput('the signer returned a signature that does not verify under the CA public key');
  }
  return new SshWriter(8 + scheme.algorithm.length + blob.length).writeString(scheme.algorithm).writeString(blob).toBytes();
}

/** Verifies the Signer's raw output (Ed25519 bytes, ECDSA r||s, RSA PKCS#1) off the event loop. */
function verifyRawSignature(key: KeyObject, scheme: Scheme, data: Uint8Array, raw: Uint8Array): Promise<boolean> {
  const keyInput = scheme.ecSize === undefined ? key : { key, dsaEncoding: 'ieee-p1363' as const };
  return new Promise((resolve) => {
    nodeVerify(scheme.hash ?? null, data, keyInput, raw, (error, ok) => resolve(error === null && ok));
  });
}

export interface SshSignature {
  algorithm: string;
  blob: Uint8Array;
}

/** Splits an encoded signature; structural errors are wire errors, content is judged by verify. */
export function decodeSshSignature(encoded: Uint8Array): SshSignature {
  const reader = new SshReader(encoded);
  const algorithmBytes = reader.readString();
  if (algorithmBytes.length > 64 || algorithmBytes.some((b) => b < 0x21 || b > 0x7e)) {
    throw new JitcaError(ErrorCodes.WIRE_INVALID, 'signature format name is not printable ASCII');
  }
  const blob = reader.readString();
  reader.ensureEnd('signature');
  return { algorithm: Buffer.from(algorithmBytes).toString('latin1'), blob };
}

/**
 * True when `signature` is a valid signature over `data` by the key in `keyBlob` using an algorithm
 * allowed for that key type. A malformed ECDSA blob (non-canonical mpints, trailing bytes) throws a
 * wire error; anything merely wrong returns false.
 */
export function verifySshSignature(keyBlob: Uint8Array, signature: SshSignature, data: Uint8Array): boolean {
  const { material } = decodePublicKeyBlob(keyBlob);
  const key = keyMaterialToKeyObject(material);
  const { algorithm, blob } = signature;
  try {
    switch (material.kind) {
      case 'ed25519':
        return algorithm === 'ssh-ed25519' && blob.length === 64 && nodeVerify(null, data, key, blob);
      case 'ecdsa': {
        const expected = signingScheme(material);
        if (algorithm !== expected.algorithm || expected.ecSize === undefined) return false;
        const size = expected.ecSize;
        const reader = new SshReader(blob);
        const r = reader.readMpintUnsignedBytes();
        const s = reader.readMpintUnsignedBytes();
        reader.ensureEnd('ECDSA signature blob');
        if (r.length > size || s.length > size) return false;
        const rs = new Uint8Array(2 * size);
        rs.set(r, size - r.length);
        rs.set(s, 2 * size - s.length);
        return nodeVerify(expected.hash ?? null, data, { key, dsaEncoding: 'ieee-p1363' }, rs);
      }
      case 'rsa': {
        // RFC 8332 §3; "ssh-rsa" (SHA-1) is refused as OpenSSH 8.8+ does by default.
        const hash = algorithm === 'rsa-sha2-512' ? 'sha512' : algorithm === 'rsa-sha2-256' ? 'sha256' : undefined;
        const modulusBytes = material.n.length;
        if (hash === undefined || blob.length > modulusBytes) return false;
        // OpenSSH accepts (and some signers emit) signatures shorter than the modulus; OpenSSL wants full length.
        const padded = new Uint8Array(modulusBytes);
        padded.set(blob, modulusBytes - blob.length);
        return nodeVerify(hash, data, key, padded);
      }
      case 'sk-ed25519':
      case 'sk-ecdsa':
        return false;
    }
  } catch (error) {
    if (error instanceof JitcaError) throw error;
    return false;
  }
}

function badSignerOutput(message: string): JitcaError {
  return new JitcaError(ErrorCodes.HSM_FAILURE, message, { retryable: true });
}
