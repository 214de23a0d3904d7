import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureRawPkcs11SignRate } from '../../hsm/raw-sign-rate.ts';
import { openPkcs11Token, type Pkcs11Token } from '../../hsm/pkcs11-token.ts';
import { createSoftHsmFixture, secondHandle, slotOf, type SoftHsmFixture } from './softhsm-fixture.ts';

let hsm: SoftHsmFixture;
let token: Pkcs11Token;

beforeAll(() => {
  hsm = createSoftHsmFixture('jitca-raw-rate');
  token = openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 4 });
});

afterAll(() => {
  token?.close();
  hsm?.cleanup();
});

function objectCount(): number {
  const api = secondHandle();
  const session = api.C_OpenSession(slotOf(api, hsm.tokenLabel), pkcs11js.CKF_SERIAL_SESSION);
  try {
    api.C_FindObjectsInit(session, []);
    const found = api.C_FindObjects(session, 1000).length;
    api.C_FindObjectsFinal(session);
    return found;
  } finally {
    api.C_CloseSession(session);
  }
}

describe('measureRawPkcs11SignRate', () => {
  it('signs on every pooled session for the given time and leaves nothing in the token', async () => {
    await token.generateKey('ssh-user-ca', 1, { kind: 'ed25519' });
    const before = objectCount();
    const rate = await measureRawPkcs11SignRate(token, 0.2);
    expect(rate.sessions).toBe(4);
    expect(rate.count).toBeGreaterThan(0);
    expect(rate.perSecond).toBeCloseTo(rate.count / rate.seconds);
    expect(objectCount()).toBe(before);
    // The token's own signers still work afterwards (sessions went back to the pool).
    expect((await token.requireSigner('ssh-user-ca', 1).sign(Buffer.from('after'))).length).toBe(64);
  });

  it('with a signer, signs with that CA key itself and leaves it in place', async () => {
    const signer = await token.generateKey('p256-ca', 1, { kind: 'ecdsa', curve: 'P-256' });
    const before = objectCount();
    const rate = await measureRawPkcs11SignRate(token, signer, 0.1);
    expect(rate.count).toBeGreaterThan(0);
    expect(objectCount()).toBe(before);
    expect(token.findSigner('p256-ca', 1)).toBeDefined();
  });

  it('opens and closes its own token when given options', async () => {
    const rate = await measureRawPkcs11SignRate({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 2 }, 0.1);
    expect(rate.sessions).toBe(2);
    expect(rate.count).toBeGreaterThan(0);
    expect(token.listKeys().map((key) => key.keyId)).toEqual(['p256-ca/1', 'ssh-user-ca/1']);
  });
});
