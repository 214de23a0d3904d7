import { createPublicKey, randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { isHsmError, type HsmError } from '../../hsm/hsm-error.ts';
import { openPkcs11Token, type Pkcs11Token } from '../../hsm/pkcs11-token.ts';
import type { KeyAlgorithm, Signer } from '../../hsm/signer.ts';
import { createSoftHsmFixture, findByLabel, secondHandle, slotOf, type SoftHsmFixture } from './softhsm-fixture.ts';
import { verifiesWith } from './signature-check.ts';

let hsm: SoftHsmFixture;
let token: Pkcs11Token;

beforeAll(() => {
  hsm = createSoftHsmFixture();
  token = openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 4 });
});

afterAll(() => {
  token?.close();
  hsm?.cleanup();
});

function caught(run: () => unknown): HsmError {
  try {
    run();
  } catch (error) {
    if (isHsmError(error)) return error;
    throw error;
  }
  throw new Error('expected a HsmError');
}

const ALGORITHMS: Array<[string, KeyAlgorithm]> = [
  ['ed25519', { kind: 'ed25519' }],
  ['ecdsa-p256', { kind: 'ecdsa', curve: 'P-256' }],
  ['ecdsa-p384', { kind: 'ecdsa', curve: 'P-384' }],
  ['rsa-3072', { kind: 'rsa', bits: 3072 }],
  ['rsa-4096', { kind: 'rsa', bits: 4096 }],
];

describe('CA keys generated inside the token', () => {
  it.each(ALGORITHMS)('%s: signatures verify with node:crypto against the public key', async (name, algorithm) => {
    const signer = await token.generateKey(`alg-${name}`, 1, algorithm);
    expect(signer.keyId).toBe(`alg-${name}/1`);
    expect(signer.algorithm).toEqual(algorithm);
    // spki is the DER of publicKey, usable on its own.
    expect(Buffer.from(signer.spki)).toEqual(signer.publicKey.export({ format: 'der', type: 'spki' }));
    expect(createPublicKey({ key: Buffer.from(signer.spki), format: 'der', type: 'spki' }).equals(signer.publicKey)).toBe(true);

    const data = randomBytes(700);
    const signature = await signer.sign(data);
    expect(signature).toBeInstanceOf(Uint8Array);
    const expectedLength = { ed25519: 64, 'ecdsa-p256': 64, 'ecdsa-p384': 96, 'rsa-3072': 384, 'rsa-4096': 512 }[name];
    expect(signature.length).toBe(expectedLength);
    expect(verifiesWith(signer, data, signature)).toBe(true);
    // A different message does not verify: the check above is not vacuous.
    expect(verifiesWith(signer, randomBytes(700), signature)).toBe(false);
  });

  it('honours SignOptions.hash for ECDSA and RSA', async () => {
    const p256 = token.requireSigner('alg-ecdsa-p256', 1);
    const rsa = token.requireSigner('alg-rsa-3072', 1);
    const data = randomBytes(100);
    expect(verifiesWith(p256, data, await p256.sign(data, { hash: 'sha512' }), 'sha512')).toBe(true);
    expect(verifiesWith(rsa, data, await rsa.sign(data, { hash: 'sha256' }), 'sha256')).toBe(true);
    expect(verifiesWith(rsa, data, await rsa.sign(data, { hash: 'sha256' }), 'sha512')).toBe(false);
  });

  it('the private key cannot be read out of the token', async () => {
    await token.generateKey('sealed-ec', 1, { kind: 'ecdsa', curve: 'P-256' });
    await token.generateKey('sealed-rsa', 1, { kind: 'rsa', bits: 3072 });
    // Straight pkcs11js, with the same login the CA process has.
    const api = secondHandle();
    const session = api.C_OpenSession(slotOf(api, hsm.tokenLabel), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      const secretOf: Array<[string, number]> = [
        ['alg-ed25519/1', pkcs11js.CKA_VALUE],
        ['sealed-ec/1', pkcs11js.CKA_VALUE],
        ['sealed-rsa/1', pkcs11js.CKA_PRIVATE_EXPONENT],
        ['sealed-rsa/1', pkcs11js.CKA_PRIME_1],
      ];
      for (const [label, attribute] of secretOf) {
        const [privateKey] = findByLabel(api, session, label, pkcs11js.CKO_PRIVATE_KEY);
        expect(privateKey, label).toBeDefined();
        if (privateKey === undefined) continue;
        expect(() => api.C_GetAttributeValue(session, privateKey, [{ type: attribute }]), label).toThrow('CKR_ATTRIBUTE_SENSITIVE');
        const flags = api.C_GetAttributeValue(session, privateKey, [
          { type: pkcs11js.CKA_EXTRACTABLE },
          { type: pkcs11js.CKA_SENSITIVE },
          { type: pkcs11js.CKA_NEVER_EXTRACTABLE },
          { type: pkcs11js.CKA_ALWAYS_SENSITIVE },
          { type: pkcs11js.CKA_TOKEN },
          { type: pkcs11js.CKA_PRIVATE },
        ]);
        expect(flags.map((attribute) => attribute.value[0]), label).toEqual([0, 1, 1, 1, 1, 1]);
        const id = api.C_GetAttributeValue(session, privateKey, [{ type: pkcs11js.CKA_ID }])[0]?.value.toString('utf8');
        expect(id).toBe(label);
      }
    } finally {
      api.C_CloseSession(session);
    }
  });
});

describe('key generations side by side', () => {
  let first: Signer;
  let second: Signer;

  beforeAll(async () => {
    first = await token.generateKey('ssh-user-ca', 1, { kind: 'ed25519' });
    second = await token.generateKey('ssh-user-ca', 2, { kind: 'ecdsa', curve: 'P-384' });
  });

  it('findSigner finds each generation with the public key the token holds', async () => {
    const found1 = token.findSigner('ssh-user-ca', 1);
    const found2 = token.findSigner('ssh-user-ca', 2);
    expect(found1?.keyId).toBe('ssh-user-ca/1');
    expect(found2?.keyId).toBe('ssh-user-ca/2');
    expect(Buffer.from(found1?.spki ?? [])).toEqual(Buffer.from(first.spki));
    expect(Buffer.from(found2?.spki ?? [])).toEqual(Buffer.from(second.spki));
    expect(found2?.algorithm).toEqual({ kind: 'ecdsa', curve: 'P-384' });
    const data = randomBytes(64);
    // A signature made through the found signer verifies with the key from generation time.
    expect(verifiesWith(first, data, await (found1 as Signer).sign(data))).toBe(true);
    expect(verifiesWith(second, data, await (found2 as Signer).sign(data))).toBe(true);
  });

  it('listKeys lists the generations of one CA, or all CAs', () => {
    expect(token.listKeys('ssh-user-ca')).toEqual([
      { caName: 'ssh-user-ca', generation: 1, algorithm: { kind: 'ed25519' }, keyId: 'ssh-user-ca/1' },
      { caName: 'ssh-user-ca', generation: 2, algorithm: { kind: 'ecdsa', curve: 'P-384' }, keyId: 'ssh-user-ca/2' },
    ]);
    const all = token.listKeys().map((key) => key.keyId);
    expect(all).toEqual(expect.arrayContaining(['ssh-user-ca/1', 'ssh-user-ca/2', 'alg-ed25519/1']));
    expect(token.listKeys('no-such-ca')).toEqual([]);
  });

  it('a generation that does not exist is undefined from findSigner and ERR_HSM_KEY_NOT_FOUND from requireSigner', () => {
    expect(token.findSigner('ssh-user-ca', 3)).toBeUndefined();
    expect(token.findSigner('other-ca', 1)).toBeUndefined();
    expect(caught(() => token.requireSigner('ssh-user-ca', 3)).code).toBe(ErrorCodes.HSM_KEY_NOT_FOUND);
  });

  it('keys survive closing and reopening the token (they are token objects)', async () => {
    const reopened = openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 1 });
    try {
      const again = reopened.requireSigner('ssh-user-ca', 1);
      expect(Buffer.from(again.spki)).toEqual(Buffer.from(first.spki));
      const data = randomBytes(32);
      expect(verifiesWith(first, data, await again.sign(data))).toBe(true);
    } finally {
      reopened.close();
    }
    // The first token still works after the second one closed.
    const data = randomBytes(32);
    expect(verifiesWith(first, data, await first.sign(data))).toBe(true);
  });

  it('refuses to generate over an existing label and leaves that key unchanged', async () => {
    const before = token.listKeys('ssh-user-ca');
    await expect(token.generateKey('ssh-user-ca', 2, { kind: 'ed25519' })).rejects.toMatchObject({ code: ErrorCodes.HSM_KEY_EXISTS });
    expect(token.listKeys('ssh-user-ca')).toEqual(before);
    const still = token.requireSigner('ssh-user-ca', 2);
    expect(Buffer.from(still.spki)).toEqual(Buffer.from(second.spki));
  });

  it('rejects CA names and generations that cannot form a key label, creating nothing', async () => {
    const before = token.listKeys();
    await expect(token.generateKey('bad/name', 1, { kind: 'ed25519' })).rejects.toMatchObject({ code: ErrorCodes.CONFIG_INVALID });
    await expect(token.generateKey('ssh-user-ca', 0, { kind: 'ed25519' })).rejects.toMatchObject({ code: ErrorCodes.CONFIG_INVALID });
    await expect(token.generateKey('ssh-user-ca', 1.5, { kind: 'ed25519' })).rejects.toMatchObject({ code: ErrorCodes.CONFIG_INVALID });
    expect(token.listKeys()).toEqual(before);
  });
});

describe('concurrency', () => {
  it('200 concurrent signatures over 4 sessions all verify', async () => {
    const signer = await token.generateKey('busy-ca', 1, { kind: 'ed25519' });
    const messages = Array.from({ length: 200 }, (_, i) => Buffer.from(`certificate body ${i} ${randomBytes(8).toString('hex')}`));
    const api = secondHandle();
    const slot = slotOf(api, hsm.tokenLabel);
    const sessionsBefore = api.C_GetTokenInfo(slot).sessionCount;
    const signatures = await Promise.all(messages.map((message) => signer.sign(message)));
    expect(signatures.every((signature, i) => verifiesWith(signer, messages[i] as Buffer, signature))).toBe(true);
    // The pool did not grow past its 4 sessions to absorb the burst.
    expect(api.C_GetTokenInfo(slot).sessionCount).toBe(sessionsBefore);
  });
});

describe('opening a token', () => {
  it('a wrong PIN is ERR_HSM_PIN, and the message does not contain the PIN', () => {
    const wrongPin = 'not-the-pin-8c41a7';
    const error = caught(() => openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: wrongPin }));
    expect(error.code).toBe(ErrorCodes.HSM_PIN);
    expect(error.message).not.toContain(wrongPin);
    expect(JSON.stringify(error.details)).not.toContain(wrongPin);
    // The open token is unaffected.
    expect(token.findSigner('ssh-user-ca', 1)).toBeDefined();
  });

  it('a missing module is ERR_HSM_UNAVAILABLE (retryable)', () => {
    const error = caught(() => openPkcs11Token({ modulePath: '/nonexistent/libpkcs11.so', tokenLabel: hsm.tokenLabel, pin: hsm.pin }));
    expect(error.code).toBe(ErrorCodes.HSM_UNAVAILABLE);
    expect(error.retryable).toBe(true);
    expect(error.message).not.toContain(hsm.pin);
  });

  it('an unknown token label is ERR_HSM_UNAVAILABLE (retryable)', () => {
    const error = caught(() => openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: 'no-such-token', pin: hsm.pin }));
    expect(error.code).toBe(ErrorCodes.HSM_UNAVAILABLE);
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ tokenLabel: 'no-such-token', presentLabels: [hsm.tokenLabel] });
  });

  it('a bad session count is ERR_CONFIG_INVALID', () => {
    const error = caught(() => openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 0 }));
    expect(error.code).toBe(ErrorCodes.CONFIG_INVALID);
  });

  it('a closed token refuses work with ERR_HSM_UNAVAILABLE', async () => {
    const other = openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 1 });
    const signer = other.requireSigner('ssh-user-ca', 1);
    other.close();
    await expect(signer.sign(Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCodes.HSM_UNAVAILABLE });
    expect(caught(() => other.listKeys()).code).toBe(ErrorCodes.HSM_UNAVAILABLE);
  });
});
