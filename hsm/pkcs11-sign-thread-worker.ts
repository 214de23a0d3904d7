import { parentPort, workerData } from 'node:worker_threads';
import pkcs11js from 'pkcs11js';
import type { SignCall, SignReply } from './pkcs11-sign-thread-protocol.ts';

/**
 * A signing thread's body (see pkcs11-sign-thread.ts). It loads the module the main thread
 * already initialized: dlopen hands back the same library, whose global state (the
 * initialization, sessions, login) is the process's, so the session and key handles the main
 * thread leased are valid here. It never calls C_Initialize or C_Finalize: the main thread owns
 * the module's life. Each call is C_SignInit + C_Sign, synchronously, in arrival order.
 */
const { modulePath } = workerData as { modulePath: string };
if (parentPort === null) throw new Error('pkcs11-sign-thread-worker.ts must run as a worker thread');
const port = parentPort;
const api = new pkcs11js.PKCS11();
api.load(modulePath);

port.on('message', (calls: SignCall[]) => {
  const replies: SignReply[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const call of calls) {
    try {
      api.C_SignInit(call.session, call.mechanism, call.key);
      const out = Buffer.alloc(call.signatureLength);
      const signature = api.C_Sign(call.session, Buffer.from(call.input.buffer, call.input.byteOffset, call.input.byteLength), out);
      // An exactly-sized copy of its own, so its buffer can be transferred rather than cloned.
      const bytes = new Uint8Array(signature);
      replies.push({ id: call.id, signature: bytes });
      transfer.push(bytes.buffer);
    } catch (error) {
      replies.push({ id: call.id, error: describe(error) });
    }
  }
  port.postMessage(replies, transfer);
});

/** pkcs11js errors carry "CKR_NAME" as message and the number as code; the main thread rebuilds them. */
function describe(error: unknown): SignReply['error'] {
  if (error instanceof pkcs11js.Pkcs11Error) return { ckr: error.message, code: error.code };
  return { message: error instanceof Error ? error.message : String(error) };
}
