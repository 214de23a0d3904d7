import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { isHsmError, type HsmError } from '../../hsm/hsm-error.ts';
import { openPkcs11Token, type Pkcs11Token } from '../../hsm/pkcs11-token.ts';
import type { Signer } from '../../hsm/signer.ts';
import { createSoftHsmFixture, secondHandle, slotOf, type SoftHsmFixture } from './softhsm-fixture.ts';
import { verifiesWith } from './signature-check.ts';

const RECOVERY_INTERVAL_MS = 100;

let hsm: SoftHsmFixture;
let token: Pkcs11Token;
let signer: Signer;

beforeAll(async () => {
  hsm = createSoftHsmFixture('jitca-recovery');
  token = openPkcs11Token({
    modulePath: hsm.modulePath,
    tokenLabel: hsm.tokenLabel,
    pin: hsm.pin,
    sessions: 4,
    recoveryIntervalMs: RECOVERY_INTERVAL_MS,
  });
  signer = await token.generateKey('recovery-ca', 1, { kind: 'ed25519' });
});

afterAll(() => {
  token?.close();
  hsm?.cleanup();
});

async function signsAndVerifies(using: Signer = signer): Promise<boolean> {
  const data = randomBytes(96);
  return verifiesWith(signer, data, await using.sign(data));
}

async function burst(count: number): Promise<boolean[]> {
  return Promise.all(Array.from({ length: count }, () => signsAndVerifies()));
}

async function rejection(promise: Promise<unknown>): Promise<HsmError> {
  try {
    await promise;
  } catch (error) {
    if (isHsmError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

function thrown(run: () => unknown): HsmError {
  try {
    run();
  } catch (error) {
    if (isHsmError(error)) return error;
    throw error;
  }
  throw new Error('expected a HsmError');
}

describe('signing recovers from faults under the pool', () => {
  it('all sessions closed under the pool (C_CloseAllSessions from another handle): the next signatures succeed', async () => {
    expect(await signsAndVerifies()).toBe(true);
    const api = secondHandle();
    api.C_CloseAllSessions(slotOf(api, hsm.tokenLabel));
    // Closing every session also ended the login; the pool reopens and logs in again.
    expect(await signsAndVerifies()).toBe(true);
    expect(await burst(40)).toEqual(Array(40).fill(true));
  });

  it('the application logged out (C_Logout from another handle): the next signature succeeds', async () => {
    const api = secondHandle();
    const session = api.C_OpenSession(slotOf(api, hsm.tokenLabel), 6);
    api.C_Logout(session);
    api.C_CloseSession(session);
    expect(await signsAndVerifies()).toBe(true);
    expect(token.listKeys('recovery-ca').map((key) => key.keyId)).toEqual(['recovery-ca/1']);
  });

  it('the module finalized under two open tokens (C_Finalize from another handle): both sign again', async () => {
    const other = openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 1 });
    try {
      const otherSigner = other.requireSigner('recovery-ca', 1);
      secondHandle().C_Finalize();
      // The pool sees CKR_CRYPTOKI_NOT_INITIALIZED, re-initializes the module, finds the slot by
      // label again (its id changes) and logs in; the other holder then follows the new epoch.
      expect(await signsAndVerifies()).toBe(true);
      expect(await signsAndVerifies(otherSigner)).toBe(true);
      expect(await burst(40)).toEqual(Array(40).fill(true));
    } finally {
      other.close();
    }
  });

  it('token store gone: calls fail fast with ERR_HSM_UNAVAILABLE (retryable), and signing resumes once it is back', async () => {
    const tokensDir = path.join(hsm.dataDir, 'hsm', 'tokens');
    const [tokenDirName] = readdirSync(tokensDir);
    if (tokenDirName === undefined) throw new Error('no token directory');
    const tokenDir = path.join(tokensDir, tokenDirName);
    const hidden = path.join(hsm.dataDir, 'hsm', 'hidden-token');
    expect(await signsAndVerifies()).toBe(true);

    renameSync(tokenDir, hidden);
    try {
      // SoftHSM2 voids the key handle and answers C_GetTokenInfo with CKR_GENERAL_ERROR.
      const first = await rejection(signer.sign(Buffer.from('while down')));
      expect(first.code).toBe(ErrorCodes.HSM_UNAVAILABLE);
      expect(first.retryable).toBe(true);
      const during = await Promise.all(Array.from({ length: 10 }, () => rejection(signer.sign(Buffer.from('burst while down')))));
      expect(during.map((error) => [error.code, error.retryable])).toEqual(Array(10).fill([ErrorCodes.HSM_UNAVAILABLE, true]));
      // An empty token must not read as "no keys" (jitca init would create generation 1 again).
      expect(thrown(() => token.listKeys('recovery-ca')).code).toBe(ErrorCodes.HSM_UNAVAILABLE);
      expect(thrown(() => token.findSigner('recovery-ca', 1)).code).toBe(ErrorCodes.HSM_UNAVAILABLE);
      // A recovery attempt after the interval (module re-initialized) still finds no token.
      await sleep(RECOVERY_INTERVAL_MS + 20);
      expect((await rejection(signer.sign(Buffer.from('still down')))).code).toBe(ErrorCodes.HSM_UNAVAILABLE);
    } finally {
      renameSync(hidden, tokenDir);
    }

    await sleep(RECOVERY_INTERVAL_MS + 20);
    const results = await burst(50);
    expect(results).toEqual(Array(50).fill(true));
    expect(token.listKeys('recovery-ca').map((key) => key.keyId)).toEqual(['recovery-ca/1']);
    // The key came back with the token: same public key as at generation time.
    expect(Buffer.from(token.requireSigner('recovery-ca', 1).spki)).toEqual(Buffer.from(signer.spki));
  });

  it('key objects gone from a present token: a 503-class refusal, and signing resumes once they are restored', async () => {
    const tokensDir = path.join(hsm.dataDir, 'hsm', 'tokens');
    const [tokenDirName] = readdirSync(tokensDir);
    if (tokenDirName === undefined) throw new Error('no token directory');
    const tokenDir = path.join(tokensDir, tokenDirName);
    const aside = mkdtempSync(path.join(hsm.dataDir, 'hsm', 'objects-aside-'));
    // Every object file but the token's own: the key pair disappears, the token stays.
    const objects = readdirSync(tokenDir).filter((name) => name.endsWith('.object') && name !== 'token.object');
    expect(objects.length).toBeGreaterThan(0);
    expect(await signsAndVerifies()).toBe(true);

    for (const name of objects) renameSync(path.join(tokenDir, name), path.join(aside, name));
    try {
      const missing = await rejection(signer.sign(Buffer.from('key gone')));
      expect([ErrorCodes.HSM_KEY_NOT_FOUND, ErrorCodes.HSM_UNAVAILABLE]).toContain(missing.code);
      await sleep(RECOVERY_INTERVAL_MS + 20);
      const stillMissing = await rejection(signer.sign(Buffer.from('key still gone')));
      expect([ErrorCodes.HSM_KEY_NOT_FOUND, ErrorCodes.HSM_UNAVAILABLE]).toContain(stillMissing.code);
    } finally {
      // Restored from a backup while jitca runs.
      for (const name of objects) renameSync(path.join(aside, name), path.join(tokenDir, name));
    }

    // SoftHSM2 does not see restored objects until the module is initialized again: the signer
    // must get there on its own (rate-limited), not only after a restart.
    await sleep(RECOVERY_INTERVAL_MS + 20);
    await signer.sign(Buffer.from('nudge')).catch(() => undefined);
    await sleep(RECOVERY_INTERVAL_MS + 20);
    expect(await burst(20)).toEqual(Array(20).fill(true));
  });
});
