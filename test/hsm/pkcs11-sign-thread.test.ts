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
import type { SignatureCheck } from '../../hsm/pkcs11-sign-thread-protocol.ts';
import { signAsSsh } from '../../src/ssh/signature.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { findPrivateKeys } from '../../hsm/pkcs11-signer.ts';
import { openPkcs11Token, sessionPoolOf, type Pkcs11Token } from '../../hsm/pkcs11-token.ts';
import type { Signer } from '../../hsm/signer.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from './softhsm-fixture.ts';
import { verifiesWith } from './signature-check.ts';

let hsm: SoftHsmFixture;
let token: Pkcs11Token;
let ed25519: Signer;
let p256: Signer;
let otherEd25519: Signer;

beforeAll(async () => {
  hsm = createSoftHsmFixture('jitca-sign-thread');
  token = openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 4, recoveryIntervalMs: 100 });
  ed25519 = await token.generateKey('thread-ca', 1, { kind: 'ed25519' });
  p256 = await token.generateKey('thread-ca-p256', 1, { kind: 'ecdsa', curve: 'P-256' });
  otherEd25519 = await token.generateKey('thread-ca-other', 1, { kind: 'ed25519' });
});

afterAll(() => {
  token?.close();
  hsm?.cleanup();
});

/** The check a signing thread makes for the Ed25519 CA key (the message is the input itself). */
function edCheck(signer: Signer = ed25519): SignatureCheck {
  return { spki: signer.spki, kind: 'ed25519' };
}

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

  it('checks each signature before it leaves: one that does not verify under the key it is checked against is ERR_HSM_FAILURE, not a signature', async () => {
    const threads = createPkcs11SignThreads(hsm.modulePath);
    const pool = sessionPoolOf(token);
    const lease = pool.acquireSync();
    try {
      const [key] = findPrivateKeys(pool, lease.session, ed25519.keyId);
      const data = randomBytes(48);
      expect(verifiesWith(ed25519, data, await threads.sign(lease.session, { mechanism: CKM_EDDSA }, key!, data, 64, edCheck()))).toBe(true);
      // The token signs with ed25519's key; the check expects another key's signature.
      const failure = await threads.sign(lease.session, { mechanism: CKM_EDDSA }, key!, data, 64, edCheck(otherEd25519)).catch((error: unknown) => error);
      expect(isHsmError(failure) && failure.code).toBe(HsmErrorCodes.HSM_FAILURE);
    } finally {
      await threads.close();
      pool.release(lease);
    }
  });

  it('vouches for exactly the arrays it returned, so a wrapper that alters a signature is still caught by signAsSsh', async () => {
    const data = randomBytes(64);
    const signature = await ed25519.sign(data);
    expect(ed25519.checkedSignature?.(signature)).toBe(true);
    expect(ed25519.checkedSignature?.(Uint8Array.from(signature))).toBe(false);
    for (const signer of [ed25519, p256]) {
      // A faulty layer built by spreading the real signer keeps checkedSignature, but what it
      // returns is not an array the signer vouched for.
      const altering: Signer = {
        ...signer,
        sign: async (bytes, options) => {
          const real = await signer.sign(bytes, options);
          const altered = Uint8Array.from(real);
          altered[5] = (altered[5] ?? 0) ^ 0x01;
          return altered;
        },
      };
      await expect(signAsSsh(altering, data)).rejects.toMatchObject({ code: ErrorCodes.HSM_FAILURE });
      // The real one passes.
      await expect(signAsSsh(signer, data)).resolves.toBeInstanceOf(Uint8Array);
    }
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
      for (let index = 0; index < 5; index += 1) await threads.sign(leases[0]!.session, { mechanism: CKM_EDDSA }, key!, randomBytes(32), 64, edCheck());
      expect(threads.threadCount).toBe(1);
      // Six at once: each finds the others' calls outstanding, so a second thread starts, then a third, and no more.
      const inputs = leases.map(() => randomBytes(32));
      const signatures = await Promise.all(leases.map((lease, index) => threads.sign(lease.session, { mechanism: CKM_EDDSA }, key!, inputs[index]!, 64, edCheck())));
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
      await Promise.all(leases.map((lease) => threads.sign(lease.session, { mechanism: CKM_EDDSA }, key!, randomBytes(32), 64, edCheck())));
      expect(threads.threadCount).toBe(1);
      // A holder that allows two (config hsm.signingThreads) raises the limit for the module.
      threads.allow(2);
      await Promise.all(leases.map((lease) => threads.sign(lease.session, { mechanism: CKM_EDDSA }, key!, randomBytes(32), 64, edCheck())));
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
      const failure = await thread.sign(deadSession, { mechanism: pkcs11js.CKM_ECDSA }, Buffer.alloc(8), randomBytes(32), 64, edCheck()).then(
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
    const failure = await thread.sign(Buffer.alloc(8), { mechanism: pkcs11js.CKM_ECDSA }, Buffer.alloc(8), randomBytes(32), 64, edCheck()).catch((error: unknown) => error);
    expect(isHsmError(failure) && failure.code).toBe(HsmErrorCodes.HSM_UNAVAILABLE);
  });

  it('does not keep a process alive once its signatures are answered', async () => {
    const script = path.join(import.meta.dirname, 'fixtures', 'sign-once.ts');
    const run = promisify(execFile)(process.execPath, ['--disable-warning=ExperimentalWarning', script], { timeout: 30_000 });
    const { stdout } = await run;
    expect(stdout).toBe('signed\n');
  }, 40_000);
});
