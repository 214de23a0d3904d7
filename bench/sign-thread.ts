/**
 * Where a checked PKCS#11 signature costs the event loop (issue 16): the signer before the
 * signing thread (C_SignInit on the event loop, C_SignAsync on the libuv pool, then the check
 * with crypto.verify's callback form on the libuv pool, as signAsSsh made it) against the signing
 * thread (hsm/pkcs11-sign-thread.ts: the event loop posts the call; the thread signs and checks),
 * on one SoftHSM2 token, the same keys and sessions, 16 signatures in flight, alternating in one
 * process. Reports, per signature, the event loop's CPU and the whole process's CPU (all
 * threads), and the rate.
 * Run: ./scripts/node node bench/sign-thread.ts [signatures=6000]
 */
import { randomBytes, verify } from 'node:crypto';
import type { Handle } from 'pkcs11js';
import { findPrivateKeys } from '../hsm/pkcs11-signer.ts';
import { signatureOperation } from '../hsm/pkcs11-signature-mechanism.ts';
import { openPkcs11Token, sessionPoolOf } from '../hsm/pkcs11-token.ts';
import type { Signer } from '../hsm/signer.ts';
import { createSoftHsmFixture } from '../test/hsm/softhsm-fixture.ts';
import { machineLine } from './references.ts';

const signatures = Number(process.argv[2] ?? 6000);
const inFlight = 16;
const hsm = createSoftHsmFixture('jitca-bench-sign-thread');
const token = openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 4, recoveryIntervalMs: 1000 });
const pool = sessionPoolOf(token);
const message = randomBytes(512);

/** The signer as it was: the event loop runs C_SignInit, the libuv pool C_Sign and then the check. */
async function signOnEventLoop(signer: Signer, key: Handle): Promise<Uint8Array> {
  const operation = signatureOperation(signer.algorithm, message, {});
  const lease = await pool.acquire();
  let signature: Uint8Array;
  try {
    pool.api.C_SignInit(lease.session, operation.mechanism, key);
    signature = new Uint8Array(await pool.api.C_SignAsync(lease.session, operation.input, Buffer.allocUnsafe(operation.signatureLength)));
  } finally {
    pool.release(lease);
  }
  const ecdsa = signer.algorithm.kind === 'ecdsa';
  const ok = await new Promise<boolean>((resolve) => {
    verify(operation.check.hash ?? null, message, ecdsa ? { key: signer.publicKey, dsaEncoding: 'ieee-p1363' } : signer.publicKey, signature, (error, valid) =>
      resolve(error === null && valid),
    );
  });
  if (!ok) throw new Error('the signature does not verify');
  return signature;
}

async function measure(sign: () => Promise<Uint8Array>): Promise<{ eventLoop: number; process: number; rate: number }> {
  const thread = process.threadCpuUsage();
  const all = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < signatures) await sign();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const threadAfter = process.threadCpuUsage(thread);
  const allAfter = process.cpuUsage(all);
  return {
    eventLoop: (threadAfter.user + threadAfter.system) / signatures,
    process: (allAfter.user + allAfter.system) / signatures,
    rate: signatures / seconds,
  };
}

try {
  const keys: Array<[string, Signer]> = [
    ['Ed25519', await token.generateKey('bench-sign-thread', 1, { kind: 'ed25519' })],
    ['P-256', await token.generateKey('bench-sign-thread-p256', 1, { kind: 'ecdsa', curve: 'P-256' })],
  ];
  console.log(machineLine());
  console.log(`sign-thread: ${signatures} signatures per run, ${inFlight} in flight, ${pool.size} sessions`);
  for (const [name, signer] of keys) {
    const lease = pool.acquireSync();
    const [key] = findPrivateKeys(pool, lease.session, signer.keyId);
    pool.release(lease);
    if (key === undefined) throw new Error(`no private key ${signer.keyId}`);
    await measure(() => signer.sign(message)); // warm-up: thread start, JIT
    await measure(() => signOnEventLoop(signer, key));
    for (let round = 1; round <= 3; round += 1) {
      const before = await measure(() => signOnEventLoop(signer, key));
      const after = await measure(() => signer.sign(message));
      console.log(
        `${name} round ${round}: C_SignInit on the event loop, C_SignAsync, check on libuv: event loop ${before.eventLoop.toFixed(1)} µs, process ${before.process.toFixed(1)} µs, ${before.rate.toFixed(0)}/s; ` +
          `signing thread (sign and check): event loop ${after.eventLoop.toFixed(1)} µs, process ${after.process.toFixed(1)} µs, ${after.rate.toFixed(0)}/s`,
      );
    }
  }
} finally {
  token.close();
  hsm.cleanup();
}
