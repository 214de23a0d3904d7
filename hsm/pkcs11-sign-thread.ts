import { Worker } from 'node:worker_threads';
import pkcs11js from 'pkcs11js';
import type { Handle, Mechanism } from 'pkcs11js';
import { HsmErrorCodes, HsmError } from './hsm-error.ts';
import type { SignCall, SignReply } from './pkcs11-sign-thread-protocol.ts';

/**
 * C_SignInit + C_Sign on a thread of their own, one per loaded module.
 *
 * Why: on the event loop, C_SignInit (SoftHSM2 decrypts the key object each time) and the
 * hand-off of C_SignAsync to the libuv pool cost about 70 µs of the main thread's CPU per
 * signature, and the pool's four threads contend for the module's locks. Here the main thread
 * only posts the call and reads the answer, and one thread signs back to back. Calls made in one
 * turn of the event loop travel in one message, and so do the answers of one batch.
 *
 * The thread holds the process alive only while signatures are outstanding, so a command that
 * signs once and ends is not kept running by an idle thread.
 */
export interface Pkcs11SignThread {
  /** The signature bytes, or a pkcs11js Pkcs11Error exactly as C_SignInit / C_Sign threw it. */
  sign(session: Handle, mechanism: Mechanism, key: Handle, input: Uint8Array, signatureLength: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

interface Waiter {
  resolve(signature: Uint8Array): void;
  reject(error: unknown): void;
}

export function createPkcs11SignThread(modulePath: string): Pkcs11SignThread {
  let worker: Worker | undefined;
  const pending = new Map<number, Waiter>();
  let queued: SignCall[] = [];
  let nextId = 1;
  let closed = false;

  function started(): Worker {
    if (worker !== undefined) return worker;
    const thread = new Worker(new URL('./pkcs11-sign-thread-worker.ts', import.meta.url), { workerData: { modulePath }, name: 'jitca-hsm-sign' });
    thread.unref();
    thread.on('message', (replies: SignReply[]) => {
      for (const reply of replies) settle(reply);
      if (pending.size === 0) thread.unref();
    });
    const stopped = (cause: unknown): void => {
      if (worker === thread) worker = undefined; // the next signature starts a new thread
      const failure = new HsmError(HsmErrorCodes.HSM_UNAVAILABLE, 'the PKCS#11 signing thread stopped; retry', { retryable: true, cause });
      for (const waiter of pending.values()) waiter.reject(failure);
      pending.clear();
    };
    thread.on('error', stopped);
    thread.on('exit', (code) => stopped(new Error(`signing thread exited with code ${code}`)));
    worker = thread;
    return thread;
  }

  function settle(reply: SignReply): void {
    const waiter = pending.get(reply.id);
    if (waiter === undefined) return;
    pending.delete(reply.id);
    if (reply.signature !== undefined) waiter.resolve(reply.signature);
    else waiter.reject(rebuild(reply.error));
  }

  function flush(): void {
    const calls = queued;
    queued = [];
    if (calls.length === 0) return;
    try {
      const thread = started();
      thread.ref();
      thread.postMessage(calls);
    } catch (error) {
      for (const call of calls) {
        pending.get(call.id)?.reject(error);
        pending.delete(call.id);
      }
    }
  }

  return {
    sign(session, mechanism, key, input, signatureLength) {
      if (closed) return Promise.reject(new HsmError(HsmErrorCodes.HSM_UNAVAILABLE, 'the PKCS#11 signing thread was closed', { retryable: false }));
      const id = nextId++;
      return new Promise<Uint8Array>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        queued.push({ id, session, mechanism, key, input, signatureLength });
        if (queued.length === 1) queueMicrotask(flush);
      });
    },
    async close() {
      closed = true;
      const thread = worker;
      worker = undefined;
      await thread?.terminate();
    },
  };
}

/** The same error class pkcs11js throws on the main thread, so callers classify it as before. */
function rebuild(error: SignReply['error']): Error {
  if (error !== undefined && 'ckr' in error) return new pkcs11js.Pkcs11Error(`${error.ckr}:${error.code}`);
  return new Error(error?.message ?? 'the signing thread answered without a signature');
}
