import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPkcs11Token } from '../../hsm/pkcs11-token.ts';
import { HsmError, HsmErrorCodes } from '../../hsm/hsm-error.ts';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { fromBackendError } from '../../src/keys/backend-errors.ts';
import { createKeyManager, type KeyManager } from '../../src/keys/key-manager.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from '../hsm/softhsm-fixture.ts';

let hsm: SoftHsmFixture;
let keys: KeyManager;

beforeAll(() => {
  hsm = createSoftHsmFixture('jitca-keys-test');
  keys = createKeyManager(openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 1 }));
});
afterAll(() => {
  keys?.close();
  hsm?.cleanup();
});

describe('key manager seam', () => {
  it('maps every backend code to a jitca code and keeps the backend\'s retryable verdict', () => {
    for (const code of Object.values(HsmErrorCodes)) {
      for (const retryable of [true, false]) {
        const mapped = fromBackendError(new HsmError(code, 'x', { retryable, details: { operation: 'sign' } }));
        expect(isJitcaError(mapped)).toBe(true);
        expect(isJitcaError(mapped) && [mapped.code, mapped.retryable, mapped.details]).toEqual([code, retryable, { operation: 'sign' }]);
      }
    }
  });

  it('creates, lists, signs with and destroys a key in a named slot; failures arrive as JitcaErrors', async () => {
    const slot = { caName: 'seam-ca', generation: 1 };
    const created = await keys.createKey(slot, { kind: 'ed25519' });
    expect(keys.list('seam-ca').map((key) => key.keyId)).toEqual(['seam-ca/1']);
    expect(keys.publicKey(slot)?.equals(created.publicKey)).toBe(true);
    expect(await keys.requireSigner(slot).sign(Buffer.from('m'))).toHaveLength(64);
    const taken = await keys.createKey(slot, { kind: 'ed25519' }).catch((error: unknown) => error);
    expect(isJitcaError(taken, ErrorCodes.HSM_KEY_EXISTS)).toBe(true);

    keys.destroy(slot);
    expect(keys.list('seam-ca')).toEqual([]);
    expect(keys.signer(slot)).toBeUndefined();
    const missing = (() => {
      try {
        keys.destroy(slot);
      } catch (error) {
        return error;
      }
    })();
    expect(isJitcaError(missing, ErrorCodes.HSM_KEY_NOT_FOUND)).toBe(true);
    // A signer kept from before the key was destroyed fails as a jitca error, not a backend one.
    const stale = await created.sign(Buffer.from('m')).catch((error: unknown) => error);
    expect(isJitcaError(stale)).toBe(true);
  });
});
