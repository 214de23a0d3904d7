import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseAuthenticatorData } from '../../src/attestation/authenticator-data.ts';
import { readCbor } from '../../src/attestation/cbor-reader.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { codeOf } from '../support/error-codes.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));
// COSE Ed25519 key {1: 1, 3: -8, -1: 6, -2: 32 bytes}
const coseEd25519 = Buffer.concat([hex('a4 01 01 03 27 20 06 21 58 20'), Buffer.alloc(32, 0xab)]);

function authData(flags: number, tail: Uint8Array = new Uint8Array()): Uint8Array {
  const rpIdHash = createHash('sha256').update('ssh:').digest();
  return new Uint8Array(Buffer.concat([rpIdHash, Buffer.of(flags), Buffer.alloc(4), Buffer.alloc(16), Buffer.of(0, 2), Buffer.of(1, 2), coseEd25519, tail]));
}

describe('CBOR as authenticators write it', () => {
  it('reads the items COSE keys use and says where the item ends', () => {
    expect(readCbor(hex('a2 01 02 20 43 010203 ff'), 0)).toEqual({ value: new Map<number, unknown>([[1, 2], [-1, Uint8Array.of(1, 2, 3)]]), end: 8 });
    expect(readCbor(hex('82 f5 f6'), 0).value).toEqual([true, null]);
  });

  it('refuses indefinite lengths, non-shortest heads, duplicate map keys, tags and truncation', () => {
    for (const bytes of ['5f 41 00 ff', '18 05', 'a2 01 01 01 02', 'c0 01', '58 05 0102', 'fb 3ff0000000000000']) {
      expect(codeOf(() => readCbor(hex(bytes), 0)), bytes).toBe(ErrorCodes.ATTESTATION_MALFORMED);
    }
  });
});

describe('authenticator data', () => {
  it('reads the flags, credential ID and COSE key, with an extensions map after it when ED is set', () => {
    const plain = parseAuthenticatorData(authData(0x45));
    expect(plain).toMatchObject({ flags: { up: true, uv: true }, credentialId: Uint8Array.of(1, 2), credentialKey: { kind: 'ed25519', x: new Uint8Array(Buffer.alloc(32, 0xab)) } });
    // {"credProtect": 2}, as a key made with verify-required may report it
    const withExtension = parseAuthenticatorData(authData(0xc5, hex('a1 6b 6372656450726f74656374 02')));
    expect(withExtension.flags).toEqual({ up: true, uv: true });
  });

  it('refuses data without attested credential data, with bytes after the key, or with another key type', () => {
    expect(codeOf(() => parseAuthenticatorData(authData(0x05)))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
    expect(codeOf(() => parseAuthenticatorData(authData(0x45, Uint8Array.of(0))))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
    const rsa = authData(0x45);
    rsa[32 + 1 + 4 + 16 + 2 + 2 + 2] = 0x03; // kty 3 (RSA)
    expect(codeOf(() => parseAuthenticatorData(rsa))).toBe(ErrorCodes.ATTESTATION_MALFORMED);
  });
});
