import { createPublicKey, type KeyObject } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11 } from 'pkcs11js';
import { HsmErrorCodes, HsmError } from './hsm-error.ts';
import type { KeyAlgorithm } from './signer.ts';
import {
  CKK_EC_EDWARDS,
  EC_PARAMS_ED25519,
  EC_PARAMS_ED25519_NAME,
  EC_PARAMS_P256,
  EC_PARAMS_P384,
} from './pkcs11-constants.ts';
import { readAttribute, readUlongAttribute } from './pkcs11-objects.ts';

export interface TokenPublicKey {
  algorithm: KeyAlgorithm;
  publicKey: KeyObject;
  spki: Uint8Array;
}

/**
 * Rebuilds the public half of a token key pair from its public key object's attributes, so the
 * public key never has to be stored anywhere but the token. Node validates the values (the EC
 * point must be on the curve) when it builds the KeyObject from the JWK.
 */
export function readTokenPublicKey(api: PKCS11, session: Handle, publicKeyHandle: Handle, keyId: string): TokenPublicKey {
  const keyType = readUlongAttribute(api, session, publicKeyHandle, pkcs11js.CKA_KEY_TYPE);
  switch (keyType) {
    case CKK_EC_EDWARDS: {
      const params = readAttribute(api, session, publicKeyHandle, pkcs11js.CKA_EC_PARAMS);
      if (!params.equals(EC_PARAMS_ED25519) && !params.equals(EC_PARAMS_ED25519_NAME)) {
        throw unsupported(keyId, `Edwards curve parameters ${params.toString('hex')} (only Ed25519 is supported)`);
      }
      const point = ecPoint(readAttribute(api, session, publicKeyHandle, pkcs11js.CKA_EC_POINT), 32, keyId);
      return fromJwk({ kty: 'OKP', crv: 'Ed25519', x: point.toString('base64url') }, { kind: 'ed25519' }, keyId);
    }
    case pkcs11js.CKK_EC: {
      const params = readAttribute(api, session, publicKeyHandle, pkcs11js.CKA_EC_PARAMS);
      const curve = params.equals(EC_PARAMS_P256) ? 'P-256' : params.equals(EC_PARAMS_P384) ? 'P-384' : undefined;
      if (curve === undefined) throw unsupported(keyId, `EC curve parameters ${params.toString('hex')} (P-256 and P-384 are supported)`);
      const size = curve === 'P-256' ? 32 : 48;
      // SEC 1 §2.3.3 uncompressed point: 0x04 || X || Y.
      const point = ecPoint(readAttribute(api, session, publicKeyHandle, pkcs11js.CKA_EC_POINT), 1 + 2 * size, keyId);
      if (point[0] !== 0x04) throw unsupported(keyId, 'a compressed EC point');
      return fromJwk(
        {
          kty: 'EC',
          crv: curve,
          x: point.subarray(1, 1 + size).toString('base64url'),
          y: point.subarray(1 + size).toString('base64url'),
        },
        { kind: 'ecdsa', curve },
        keyId,
      );
    }
    case pkcs11js.CKK_RSA: {
      const modulus = stripLeadingZeros(readAttribute(api, session, publicKeyHandle, pkcs11js.CKA_MODULUS));
      const exponent = stripLeadingZeros(readAttribute(api, session, publicKeyHandle, pkcs11js.CKA_PUBLIC_EXPONENT));
      const bits = bitLength(modulus);
      if (bits !== 2048 && bits !== 3072 && bits !== 4096) throw unsupported(keyId, `a ${bits}-bit RSA modulus (2048, 3072 and 4096 are supported)`);
      return fromJwk(
        { kty: 'RSA', n: modulus.toString('base64url'), e: exponent.toString('base64url') },
        { kind: 'rsa', bits },
        keyId,
      );
    }
    default:
      throw unsupported(keyId, `key type 0x${keyType.toString(16)}`);
  }
}

/**
 * CKA_EC_POINT is DER OCTET STRING-wrapped per PKCS#11 (2.40 §2.3.3; 3.0 §2.3.6 for Edwards keys),
 * but some modules return the bare point: accept both, decided by the exact expected length.
 */
function ecPoint(value: Buffer, pointLength: number, keyId: string): Buffer {
  if (value.length === pointLength) return value;
  const header = pointLength < 0x80 ? 2 : 3;
  const lengthOk =
    pointLength < 0x80 ? value[1] === pointLength : value[1] === 0x81 && value[2] === pointLength;
  if (value[0] === 0x04 && lengthOk && value.length === header + pointLength) return value.subarray(header);
  throw new HsmError(HsmErrorCodes.HSM_FAILURE, `token key ${keyId} has a malformed CKA_EC_POINT (${value.length} bytes)`, {
    details: { keyId },
  });
}

function fromJwk(jwk: Record<string, string>, algorithm: KeyAlgorithm, keyId: string): TokenPublicKey {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  } catch (error) {
    throw new HsmError(HsmErrorCodes.HSM_FAILURE, `token key ${keyId} has a public key Node cannot use`, { details: { keyId }, cause: error });
  }
  return { algorithm, publicKey, spki: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })) };
}

function stripLeadingZeros(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  return bytes.subarray(start);
}

function bitLength(bigEndian: Buffer): number {
  const first = bigEndian[0] ?? 0;
  return first === 0 ? 0 : (bigEndian.length - 1) * 8 + (32 - Math.clz32(first));
}

function unsupported(keyId: string, what: string): HsmError {
  return new HsmError(HsmErrorCodes.KEY_UNSUPPORTED, `token key ${keyId} uses ${what}`, { details: { keyId } });
}
