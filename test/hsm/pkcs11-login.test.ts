import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { isHsmError, type HsmError } from '../../hsm/hsm-error.ts';
import { openPkcs11Token } from '../../hsm/pkcs11-token.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from './softhsm-fixture.ts';

// Its own file (own process): the first test needs a token nobody in the process is logged in
// to, so that the PIN really goes to C_Login.
let hsm: SoftHsmFixture;

beforeAll(() => {
  hsm = createSoftHsmFixture('jitca-login');
});

afterAll(() => hsm?.cleanup());

function thrown(run: () => unknown): HsmError {
  try {
    run();
  } catch (error) {
    if (isHsmError(error)) return error;
    throw error;
  }
  throw new Error('expected a HsmError');
}

describe('user PIN', () => {
  it('the token rejecting a wrong PIN is ERR_HSM_PIN, naming CKR_PIN_INCORRECT but never the PIN', () => {
    const wrongPin = 'wrong-pin-5f0e2d9a';
    const error = thrown(() => openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: wrongPin }));
    expect(error.code).toBe(ErrorCodes.HSM_PIN);
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ ckr: 'CKR_PIN_INCORRECT' });
    expect(`${error.message} ${JSON.stringify(error.details)} ${error.stack ?? ''}`).not.toContain(wrongPin);
  });

  it('after a rejected PIN the right one opens the token, and a wrong one is still refused while it is open', () => {
    const token = openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 1 });
    try {
      expect(token.listKeys()).toEqual([]);
      // Login is per process: the second open must not ride on the first one's login.
      const error = thrown(() => openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: `${hsm.pin}x` }));
      expect(error.code).toBe(ErrorCodes.HSM_PIN);
      expect(error.message).not.toContain(hsm.pin);
      // The refused open did not disturb the open token.
      expect(token.listKeys()).toEqual([]);
    } finally {
      token.close();
    }
  });
});
