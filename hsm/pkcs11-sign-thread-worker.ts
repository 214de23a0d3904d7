import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import pkcs11js from 'pkcs11js';
import type { SignatureCheck, SignCall, SignReply } from './pkcs11-sign-thread-protocol.ts';

/**
 * A signing thread's body (see pkcs11-sign-thread.ts). It loads the module the main thread
 * already initialized: dlopen hands back the same library, whose global state (the
 * initialization, sessions, login) is the process's, so the session and key handles the main
 * thread leased are valid here. It never calls C_Initialize or C_Finalize: the main thread owns
 * the module's life. Each call is C_SignInit + C_Sign, synchronously, in arrival order, then a
 * check of the signature under the key's public half: a faulty token would otherwise hand out a
 * certificate sshd silently refuses, and a faulty RSA-CRT signature leaks the private key
 * (Boneh-DeMillo-Lipton) if released. No signature leaves this thread unchecked.
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
      const input = Buffer.from(call.input.buffer, call.input.byteOffset, call.input.byteLength);
      const signature = api.C_Sign(call.session, input, out);
      if (!verifies(call.check, input, signature)) {
        replies.push({ id: call.id, error: { unverified: true } });
        continue;
      }
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

/** Public keys by their SPKI, parsed once: a process signs with a handful of CA keys. */
const publicKeys = new Map<string, KeyObject>();
const MAX_PUBLIC_KEYS = 64;

function verifies(check: SignatureCheck, input: Buffer, signature: Buffer): boolean {
  const spki = Buffer.from(check.spki.buffer, check.spki.byteOffset, check.spki.byteLength);
  const id = spki.toString('base64');
  let key = publicKeys.get(id);
  if (key === undefined) {
    if (publicKeys.size >= MAX_PUBLIC_KEYS) publicKeys.clear();
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    publicKeys.set(id, key);
  }
  try {
    switch (check.kind) {
      case 'ed25519':
        return verify(null, input, key, signature);
      case 'ecdsa':
        return check.message !== undefined && verify(check.hash ?? null, check.message, { key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'rsa':
        return verify(check.hash ?? null, input, key, signature);
    }
  } catch {
    return false;
  }
}

/** pkcs11js errors carry "CKR_NAME" as message and the number as code; the main thread rebuilds them. */
function describe(error: unknown): SignReply['error'] {
  if (error instanceof pkcs11js.Pkcs11Error) return { ckr: error.message, code: error.code };
  return { message: error instanceof Error ? error.message : String(error) };
}
