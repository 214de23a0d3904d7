import { Worker } from 'node:worker_threads';
import pkcs11js from 'pkcs11js';
import type { Handle, Mechanism } from 'pkcs11js';
import { HsmErrorCodes, HsmError } from './hsm-error.ts';
import type { SignatureCheck, SignCall, SignReply } from './pkcs11-sign-thread-protocol.ts';

/**
 * C_SignInit + C_Sign, and the check of the signature, on threads of their own, shared by
 * everything that signs with one module.
 *
 * Why: on the event loop, C_SignInit (SoftHSM2 decrypts the key object each time) and the
 * hand-off of C_SignAsync to the libuv pool cost 65-130 µs of the main thread's CPU per
 * signature; here the main thread only posts the call and reads the answer, 12-32 µs
 * (bench/sign-thread.ts). The whole process spends about the same: the messages cost what the
 * libuv hand-off did. Calls made in one turn of the event loop travel to a thread in one
 * message, and the answers of one batch come back in one.
 *
 * How many threads: one by default. A CPU-bound token (SoftHSM2 signs in about 100 µs) keeps up
 * on one thread, and more only contend for the cores the event loop and the store need: in the
 * peer bench, four threads took 190-330 µs of CPU per certificate where one took 150-230. A
 * network HSM, whose C_Sign waits milliseconds, needs signatures in parallel: its operator
 * allows more (config hsm.signingThreads), and another thread starts only when a call has waited
 * growAfterMs (default 2 ms) on the least busy one.
 *
 * The threads hold the process alive only while signatures are outstanding, so a command that
 * signs once and ends is not kept running by an idle thread.
 */
export interface Pkcs11SignThreads {
  /**
   * The signature bytes, checked under `check`'s public key; a pkcs11js Pkcs11Error exactly as
   * C_SignInit / C_Sign threw it; or ERR_HSM_FAILURE when the token's signature does not verify.
   */
  sign(session: Handle, mechanism: Mechanism, key: Handle, input: Uint8Array, signatureLength: number, check: SignatureCheck): Promise<Uint8Array>;
  /** Threads running now (for tests and diagnostics). */
  readonly threadCount: number;
  /** Raises the limit to at least `maxThreads` (several token holders share one module's threads). */
  allow(maxThreads: number): void;
  close(): Promise<void>;
}

export interface Pkcs11SignThreadsOptions {
  maxThreads?: number;
  growAfterMs?: number;
}

const DEFAULT_MAX_THREADS = 1;
const DEFAULT_GROW_AFTER_MS = 2;

interface Waiter {
  resolve(signature: Uint8Array): void;
  reject(error: unknown): void;
  /** performance.now() when the call was handed to the thread. */
  since: number;
}

interface SigningThread {
  worker: Worker;
  /** Posted or queued, not yet answered. */
  pending: Map<number, Waiter>;
  queued: SignCall[];
}

export function createPkcs11SignThreads(modulePath: string, options: Pkcs11SignThreadsOptions = {}): Pkcs11SignThreads {
  let maxThreads = options.maxThreads ?? DEFAULT_MAX_THREADS;
  const growAfterMs = options.growAfterMs ?? DEFAULT_GROW_AFTER_MS;
  const threads: SigningThread[] = [];
  let nextId = 1;
  let closed = false;

  function start(): SigningThread {
    const worker = new Worker(new URL('./pkcs11-sign-thread-worker.ts', import.meta.url), { workerData: { modulePath }, name: 'jitca-hsm-sign' });
    const thread: SigningThread = { worker, pending: new Map(), queued: [] };
    worker.unref();
    worker.on('message', (replies: SignReply[]) => {
      for (const reply of replies) settle(thread, reply);
      if (thread.pending.size === 0) worker.unref();
    });
    const stopped = (cause: unknown): void => {
      const index = threads.indexOf(thread);
      if (index >= 0) threads.splice(index, 1); // the next signature starts a new thread
      const failure = new HsmError(HsmErrorCodes.HSM_UNAVAILABLE, 'a PKCS#11 signing thread stopped; retry', { retryable: true, cause });
      for (const waiter of thread.pending.values()) waiter.reject(failure);
      thread.pending.clear();
      thread.queued = [];
    };
    worker.on('error', stopped);
    worker.on('exit', (code) => stopped(new Error(`signing thread exited with code ${code}`)));
    threads.push(thread);
    return thread;
  }

  /** The least busy thread, or a new one when even that one has a call waiting too long. */
  function threadFor(now: number): SigningThread {
    let best: SigningThread | undefined;
    for (const thread of threads) if (best === undefined || thread.pending.size < best.pending.size) best = thread;
    if (best === undefined) return start();
    const oldest = best.pending.values().next().value;
    if (oldest !== undefined && now - oldest.since >= growAfterMs && threads.length < maxThreads) return start();
    return best;
  }

  function settle(thread: SigningThread, reply: SignReply): void {
    const waiter = thread.pending.get(reply.id);
    if (waiter === undefined) return;
    thread.pending.delete(reply.id);
    if (reply.signature !== undefined) waiter.resolve(reply.signature);
    else waiter.reject(rebuild(reply.error));
  }

  function flush(thread: SigningThread): void {
    const calls = thread.queued;
    thread.queued = [];
    if (calls.length === 0) return;
    try {
      thread.worker.ref();
      thread.worker.postMessage(calls);
    } catch (error) {
      for (const call of calls) {
        thread.pending.get(call.id)?.reject(error);
        thread.pending.delete(call.id);
      }
    }
  }

  return {
    sign(session, mechanism, key, input, signatureLength, check) {
      if (closed) return Promise.reject(new HsmError(HsmErrorCodes.HSM_UNAVAILABLE, 'the PKCS#11 signing threads were closed', { retryable: false }));
      const now = performance.now();
      let thread: SigningThread;
      try {
        thread = threadFor(now);
      } catch (error) {
        return Promise.reject(new HsmError(HsmErrorCodes.HSM_UNAVAILABLE, 'cannot start a PKCS#11 signing thread; retry', { retryable: true, cause: error }));
      }
      const id = nextId++;
      return new Promise<Uint8Array>((resolve, reject) => {
        thread.pending.set(id, { resolve, reject, since: now });
        const ownCheck = { ...check, spki: ownBytes(check.spki), ...(check.message === undefined ? {} : { message: ownBytes(check.message) }) };
        thread.queued.push({ id, session, mechanism, key, input: ownBytes(input), signatureLength, check: ownCheck });
        if (thread.queued.length === 1) queueMicrotask(() => flush(thread));
      });
    },
    get threadCount() {
      return threads.length;
    },
    allow(atLeast) {
      if (atLeast > maxThreads) maxThreads = atLeast;
    },
    async close() {
      closed = true;
      await Promise.all(threads.splice(0).map((thread) => thread.worker.terminate()));
    },
  };
}

/**
 * The bytes in an ArrayBuffer of their own: a message carries a typed array's whole buffer, and a
 * digest or a Buffer slice shares Node's 8 KiB pool with whatever else was allocated there.
 */
function ownBytes(input: Uint8Array): Uint8Array {
  return input.byteOffset === 0 && input.byteLength === input.buffer.byteLength ? input : input.slice();
}

/** The same error class pkcs11js throws on the main thread, so callers classify it as before. */
function rebuild(error: SignReply['error']): Error {
  if (error !== undefined && 'ckr' in error) return new pkcs11js.Pkcs11Error(`${error.ckr}:${error.code}`);
  if (error !== undefined && 'unverified' in error) {
    return new HsmError(HsmErrorCodes.HSM_FAILURE, 'the token returned a signature that does not verify under its public key', { retryable: true });
  }
  return new Error(error !== undefined && 'message' in error ? error.message : 'the signing thread answered without a signature');
}
