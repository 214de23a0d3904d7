import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HsmErrorCodes, isHsmError } from '../../hsm/hsm-error.ts';
import { classifyPkcs11Failure } from '../../hsm/pkcs11-errors.ts';
import { CKM_EDDSA } from '../../hsm/pkcs11-constants.ts';
import { createPkcs11SignThreads } from '../../hsm/pkcs11-sign-thread.ts';
import { findPrivateKeys } from '../../hsm/pkcs11-signer.ts';
import { openPkcs11Token, sessionPoolOf, type Pkcs11Token } from '../../hsm/pkcs11-token.ts';
import type { Signer } from '../../hsm/signer.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from './softhsm-fixture.ts';
import { verifiesWith } from './signature-check.ts';

let hsm: SoftHsmFixture;
let token: Pkcs11Token;
let ed25519: Signer;
let p256: Signer;

beforeAll(async () => {
  hsm = createSoftHsmFixture('jitca-sign-thread');
  token = openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 4, recoveryIntervalMs: 100 });
  ed25519 = await token.generateKey('thread-ca', 1, { kind: 'ed25519' });
  p256 = await token.generateKey('thread-ca-p256', 1, { kind: 'ecdsa', curve: 'P-256' });
});

afterAll(() => {
  token?.close();
  hsm?.cleanup();
});

function threadNames(): string[] {
  return readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
}

describe('the PKCS#11 signing thread', () => {
  it('signs on a thread of its own, and each of many concurrent callers gets the signature over its own data', async () => {
    const inputs = Array.from({ length: 64 }, (_, index) => randomBytes(32 + index));
    const signers = inputs.map((_, index) => (index % 2 === 0 ? ed25519 : p256));
    const signatures = await Promise.all(inputs.map((data, index) => signers[index]!.sign(data)));
    expect(threadNames()).toContain('jitca-hsm-sign');
    expect(signatures.map((signature, index) => verifiesWith(signers[index]!, inputs[index]!, signature))).toEqual(inputs.map(() => true));
    // A signature is not valid for another caller's data.
    expect(verifiesWith(ed25519, inputs[2]!, signatures[0]!)).toBe(false);
  });

  it('signs exactly the bytes of a view into a larger buffer, for both key types', async () => {
    const backing = randomBytes(4096);
    const view = backing.subarray(1000, 1077);
    for (const signer of [ed25519, p256]) {
      const signature = await signer.sign(view);
      expect(verifiesWith(signer, view, signature)).toBe(true);
      expect(verifiesWith(signer, backing.subarray(1000, 1078), signature)).toBe(false);
    }
  });

  it('runs one thread while it keeps up, and more, up to its limit, while calls wait (a network HSM signs in milliseconds)', async () => {
    const pool = sessionPoolOf(token);
    // Six sessions, one call each: a PKCS#11 session runs one operation at a time.
    const leases = Array.from({ length: 6 }, () => pool.acquireSync());
    // growAfterMs 0: any call still outstanding counts as waiting (SoftHSM2 answers too fast to wait 2 ms).
    const threads = createPkcs11SignThreads(hsm.modulePath, { maxThreads: 3, growAfterMs: 0 });
    try {
      const [key] = findPrivateKeys(pool, leases[0]!.session, ed25519.keyId);
      // One call at a time: one thread.
      for (let index = 0; index < 5; index += 1) await threads.sign(leases[0]!.session, { mechanism: CKM_EDDSA }, key!, randomBytes(32), 64);
      expect(threads.threadCount).toBe(1);
      // Six at once: each finds the others' calls outstanding, so a second thread starts, then a third, and no more.
      const inputs = leases.map(() => randomBytes(32));
      const signatures = await Promise.all(leases.map((lease, index) => threads.sign(lease.session, { mechanism: CKM_EDDSA }, key!, inputs[index]!, 64)));
      expect(threads.threadCount).toBe(3);
      expect(signatures.map((signature, index) => verifiesWith(ed25519, inputs[index]!, signature))).toEqual(inputs.map(() => true));
    } finally {
      await threads.close();
      for (const lease of leases) pool.release(lease);
    }
  });

  it('uses one thread by default, however many signatures wait, and no more than a token allows', async () => {
    const threads = createPkcs11SignThreads(hsm.modulePath, { growAfterMs: 0 });
    const pool = sessionPoolOf(token);
    const leases = Array.from({ length: 4 }, () => pool.acquireSync());
    try {
      const [key] = findPrivateKeys(pool, leases[0]!.session, ed25519.keyId);
      await Promise.all(leases.map((lease) => threads.sign(lease.session, { mechanism: CKM_EDDSA }, key!, randomBytes(32), 64)));
      expect(threads.threadCount).toBe(1);
      // A holder that allows two (config hsm.signingThreads) raises the limit for the module.
      threads.allow(2);
      await Promise.all(leases.map((lease) => threads.sign(lease.session, { mechanism: CKM_EDDSA }, key!, randomBytes(32), 64)));
      expect(threads.threadCount).toBe(2);
    } finally {
      await threads.close();
      for (const lease of leases) pool.release(lease);
    }
  });

  it('refuses more signing threads than sessions when a token is opened', () => {
    expect(() => openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 2, signingThreads: 3 })).toThrow(
      expect.objectContaining({ code: HsmErrorCodes.CONFIG_INVALID }),
    );
  });

  it("answers a failed PKCS#11 call with pkcs11js's own error, so the pool classifies it as before", async () => {
    const thread = createPkcs11SignThreads(hsm.modulePath);
    try {
      const deadSession = Buffer.alloc(8);
      deadSession.writeUInt32LE(0x7fff_fff0);
      const failure = await thread.sign(deadSession, { mechanism: pkcs11js.CKM_ECDSA }, Buffer.alloc(8), randomBytes(32), 64).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(pkcs11js.Pkcs11Error);
      expect((failure as Error).message).toBe('CKR_SESSION_HANDLE_INVALID');
      expect(classifyPkcs11Failure(failure)).toBe('session');
    } finally {
      await thread.close();
    }
  });

  it('once closed, refuses new signatures as unavailable', async () => {
    const thread = createPkcs11SignThreads(hsm.modulePath);
    await thread.close();
    const failure = await thread.sign(Buffer.alloc(8), { mechanism: pkcs11js.CKM_ECDSA }, Buffer.alloc(8), randomBytes(32), 64).catch((error: unknown) => error);
    expect(isHsmError(failure) && failure.code).toBe(HsmErrorCodes.HSM_UNAVAILABLE);
  });

  it('does not keep a process alive once its signatures are answered', async () => {
    const script = path.join(import.meta.dirname, 'fixtures', 'sign-once.ts');
    const run = promisify(execFile)(process.execPath, ['--disable-warning=ExperimentalWarning', script], { timeout: 30_000 });
    const { stdout } = await run;
    expect(stdout).toBe('signed\n');
  }, 40_000);
});
