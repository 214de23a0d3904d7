import type { KeyObject } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Handle } from 'pkcs11js';
import { HsmErrorCodes, HsmError } from './hsm-error.ts';
import type { KeyAlgorithm, Signer, SignOptions } from './signer.ts';
import { classifyPkcs11Failure, toHsmError } from './pkcs11-errors.ts';
import { findObjects } from './pkcs11-objects.ts';
import type { Pkcs11SessionPool, SessionLease } from './pkcs11-session-pool.ts';
import { signatureOperation } from './pkcs11-signature-mechanism.ts';

export interface Pkcs11SignerInit {
  pool: Pkcs11SessionPool;
  /** CKA_LABEL of the key pair, "<caName>/<generation>". */
  keyId: string;
  algorithm: KeyAlgorithm;
  publicKey: KeyObject;
  spki: Uint8Array;
  /** The private key handle if the caller just found it, with the module epoch it belongs to. */
  privateKey?: { handle: Handle; epoch: number };
}

const MAX_ATTEMPTS = 3;

/**
 * A Signer whose private key never leaves the token: each signature borrows a pooled session and
 * runs C_SignInit + C_Sign on one of the module's signing threads (pkcs11-sign-thread.ts), so
 * the event loop stays free; the pool's size bounds how many wait there at once. The thread
 * checks each signature under the public key before answering, and checkedSignature() vouches
 * for exactly the arrays sign() returned, so callers need not check them again.
 *
 * Retries absorb stale state: a session closed under us, a module finalized under us, or a key
 * handle that went stale (the pool reopens, re-initializes, logs in again, or we find the key
 * again by label). One fault can take two retries: after C_CloseAllSessions the dead session
 * fails first, then the key handle SoftHSM2 voided when the login ended. Anything else, or a
 * third failure, goes to the caller as a HsmError.
 */
export function createPkcs11Signer(init: Pkcs11SignerInit): Signer {
  const { pool, keyId, algorithm } = init;
  let cachedKey = init.privateKey;
  // The very arrays sign() returned, each verified under publicKey on the signing thread.
  const checked = new WeakSet<Uint8Array>();

  function privateKeyFor(lease: SessionLease): Handle {
    if (cachedKey !== undefined && cachedKey.epoch === lease.epoch) return cachedKey.handle;
    let handle = findPrivateKeys(pool, lease.session, keyId)[0];
    if (handle === undefined && pool.logInAgainIfNeeded(lease)) handle = findPrivateKeys(pool, lease.session, keyId)[0];
    if (handle === undefined) {
      pool.assertTokenPresent(); // throws ERR_HSM_UNAVAILABLE when the token itself is gone
      const missing = new HsmError(HsmErrorCodes.HSM_KEY_NOT_FOUND, `private key ${keyId} is not in token "${pool.tokenLabel}"`, {
        retryable: true,
        details: { keyId, tokenLabel: pool.tokenLabel },
      });
      pool.noteObjectMissing(missing);
      throw missing;
    }
    cachedKey = { handle, epoch: lease.epoch };
    return handle;
  }

  return {
    keyId,
    algorithm,
    publicKey: init.publicKey,
    spki: init.spki,
    checkedSignature: (signature) => checked.has(signature),
    async sign(data: Uint8Array, options: SignOptions = {}): Promise<Uint8Array> {
      const operation = signatureOperation(algorithm, data, options);
      const check = { ...operation.check, spki: init.spki };
      for (let attempt = 1; ; attempt += 1) {
        const lease = await pool.acquire();
        let failure: unknown;
        try {
          const key = privateKeyFor(lease);
          const signature = await pool.signThreads.sign(lease.session, operation.mechanism, key, operation.input, operation.signatureLength, check);
          checked.add(signature);
          return signature;
        } catch (error) {
          failure = error;
          const kind = classifyPkcs11Failure(error);
          if (kind === 'object') cachedKey = undefined;
          if (attempt < MAX_ATTEMPTS && (kind === 'session' || kind === 'module' || kind === 'object')) continue;
          throw toHsmError(error, `sign with ${keyId}`);
        } finally {
          pool.release(lease, failure);
        }
      }
    },
  };
}

/** Private key objects labelled `keyId` (normally exactly one). */
export function findPrivateKeys(pool: Pkcs11SessionPool, session: Handle, keyId: string): Handle[] {
  return findObjects(pool.api, session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_LABEL, value: keyId },
  ]);
}
