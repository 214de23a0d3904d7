import pkcs11js from 'pkcs11js';
import type { Handle } from 'pkcs11js';
import { HsmErrorCodes, HsmError, isHsmError } from './hsm-error.ts';
import { keyAlgorithmName, type KeyAlgorithm, type Signer } from './signer.ts';
import { toHsmError } from './pkcs11-errors.ts';
import { keyPairTemplates } from './pkcs11-keygen.ts';
import { keyLabel, parseKeyLabel, assertCaName } from './pkcs11-key-label.ts';
import { acquirePkcs11Module } from './pkcs11-module.ts';
import { findObjects, readUtf8Attribute } from './pkcs11-objects.ts';
import { readTokenPublicKey } from './pkcs11-public-key.ts';
import { Pkcs11SessionPool, type SessionLease } from './pkcs11-session-pool.ts';
import { createPkcs11Signer, findPrivateKeys } from './pkcs11-signer.ts';

export interface Pkcs11TokenOptions {
  /** Path of the PKCS#11 module (.so), from configuration. */
  modulePath: string;
  /** CKA_LABEL of the token (CK_TOKEN_INFO.label without its blank padding). */
  tokenLabel: string;
  /** User PIN. Kept in memory only, to log in again after the token comes back; never logged. */
  pin: string;
  /** Logged-in R/W sessions kept open; signatures in parallel are limited to this. Default 4. */
  sessions?: number;
  /**
   * Threads that run C_Sign (hsm/pkcs11-sign-thread.ts). Default 1, right for SoftHSM2 and other
   * tokens that sign on this machine's CPU; a network HSM, whose C_Sign waits on the network,
   * wants up to `sessions`.
   */
  signingThreads?: number;
  /** While the token is down, how long calls fail fast between recovery attempts. Default 1000 ms. */
  recoveryIntervalMs?: number;
}

export interface Pkcs11KeyInfo {
  caName: string;
  generation: number;
  algorithm: KeyAlgorithm;
  /** "<caName>/<generation>", the token label and Signer.keyId. */
  keyId: string;
}

export interface Pkcs11Token {
  readonly tokenLabel: string;
  /**
   * Generates a CA key pair inside the token (never outside it) under label
   * "<caName>/<generation>". Rejects with ERR_HSM_KEY_EXISTS when that label is taken.
   */
  generateKey(caName: string, generation: number, algorithm: KeyAlgorithm): Promise<Signer>;
  /** The signer for an existing key pair, or undefined when the token has no such key. */
  findSigner(caName: string, generation: number): Signer | undefined;
  /** Like findSigner, but a missing key is ERR_HSM_KEY_NOT_FOUND. */
  requireSigner(caName: string, generation: number): Signer;
  /** jitca CA key pairs in the token (both halves present), by CA name then generation. */
  listKeys(caName?: string): Pkcs11KeyInfo[];
  /**
   * Destroys both halves of key "<caName>/<generation>" (a retired generation); the label is
   * never handed out again by jitca. A missing key is ERR_HSM_KEY_NOT_FOUND.
   */
  destroyKey(caName: string, generation: number): void;
  /** Logs out, closes the sessions and finalizes the module when nothing else in the process uses it. */
  close(): void;
}

const DEFAULT_SESSIONS = 4;
const MAX_SESSIONS = 64;
const DEFAULT_RECOVERY_INTERVAL_MS = 1000;

/** Pools behind tokens, for the raw PKCS#11 benchmark only (raw-sign-rate.ts). */
const pools = new WeakMap<Pkcs11Token, Pkcs11SessionPool>();

/**
 * Opens a token: loads and initializes the module (shared in the process), finds the slot whose
 * token has `tokenLabel`, opens `sessions` R/W sessions and logs in once. Failures are HsmErrors:
 * module or token missing ERR_HSM_UNAVAILABLE (retryable), PIN rejected ERR_HSM_PIN.
 */
export function openPkcs11Token(options: Pkcs11TokenOptions): Pkcs11Token {
  const sessions = options.sessions ?? DEFAULT_SESSIONS;
  if (!Number.isInteger(sessions) || sessions < 1 || sessions > MAX_SESSIONS) {
    throw new HsmError(HsmErrorCodes.CONFIG_INVALID, `hsm sessions ${sessions} is not allowed: use 1 to ${MAX_SESSIONS}`, {
      details: { sessions },
    });
  }
  const signingThreads = options.signingThreads ?? 1;
  if (!Number.isInteger(signingThreads) || signingThreads < 1 || signingThreads > sessions) {
    throw new HsmError(HsmErrorCodes.CONFIG_INVALID, `hsm signingThreads ${signingThreads} is not allowed: use 1 to sessions (${sessions})`, {
      details: { signingThreads, sessions },
    });
  }
  const recoveryIntervalMs = options.recoveryIntervalMs ?? DEFAULT_RECOVERY_INTERVAL_MS;
  if (!Number.isFinite(recoveryIntervalMs) || recoveryIntervalMs < 0) {
    throw new HsmError(HsmErrorCodes.CONFIG_INVALID, `hsm recovery interval ${recoveryIntervalMs} ms is not allowed: use 0 or more`);
  }
  const module = acquirePkcs11Module(options.modulePath);
  const pool = new Pkcs11SessionPool({ module, tokenLabel: options.tokenLabel, pin: options.pin, size: sessions, recoveryIntervalMs, signingThreads });
  try {
    pool.openAll();
  } catch (error) {
    pool.close();
    throw error;
  }
  const token = createToken(pool);
  pools.set(token, pool);
  return token;
}

/** The session pool behind a token: for measureRawPkcs11SignRate, which bypasses the Signer. */
export function sessionPoolOf(token: Pkcs11Token): Pkcs11SessionPool {
  const pool = pools.get(token);
  if (pool === undefined) throw new HsmError(HsmErrorCodes.HSM_FAILURE, 'not a token opened by openPkcs11Token');
  return pool;
}

function createToken(pool: Pkcs11SessionPool): Pkcs11Token {
  const api = pool.api;
  // One key generation at a time in this process: the "label is free" check and the generation
  // must not interleave (another process can still race; generation numbers come from one place).
  let keygenQueue: Promise<unknown> = Promise.resolve();

  function withSessionSync<T>(operation: string, use: (lease: SessionLease) => T): T {
    const lease = pool.acquireSync();
    let failure: unknown;
    try {
      pool.logInAgainIfNeeded(lease); // logged out, private keys would look absent
      return use(lease);
    } catch (error) {
      failure = error;
      throw toHsmError(error, operation);
    } finally {
      pool.release(lease, failure);
    }
  }

  function findPublicKeys(session: Handle, label: string): Handle[] {
    return findObjects(api, session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
  }

  function findSigner(caName: string, generation: number): Signer | undefined {
    const label = keyLabel(caName, generation);
    return withSessionSync(`find key ${label}`, (lease) => {
      const privateKeys = findPrivateKeys(pool, lease.session, label);
      const publicKeys = findPublicKeys(lease.session, label);
      if (privateKeys.length > 1 || publicKeys.length > 1) {
        throw new HsmError(HsmErrorCodes.HSM_FAILURE, `token "${pool.tokenLabel}" holds several key pairs labelled ${label}; remove the extra objects`, {
          details: { keyId: label, privateKeys: privateKeys.length, publicKeys: publicKeys.length },
        });
      }
      const [privateKey] = privateKeys;
      const [publicKey] = publicKeys;
      if (privateKey === undefined || publicKey === undefined) {
        // An empty answer from a vanished token must not read as "no key" (jitca init would
        // then try to create generation 1 again).
        pool.assertTokenPresent();
        return undefined;
      }
      const half = readTokenPublicKey(api, lease.session, publicKey, label);
      return createPkcs11Signer({ pool, keyId: label, ...half, privateKey: { handle: privateKey, epoch: lease.epoch } });
    });
  }

  return {
    tokenLabel: pool.tokenLabel,

    async generateKey(caName: string, generation: number, algorithm: KeyAlgorithm): Promise<Signer> {
      const label = keyLabel(caName, generation);
      assertSupportedAlgorithm(algorithm);
      const run = keygenQueue.then(async () => {
        const lease = await pool.acquire();
        let failure: unknown;
        try {
          pool.logInAgainIfNeeded(lease); // logged out, an existing private key would look absent
          const existing = findObjects(api, lease.session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
          if (existing.length > 0) {
            throw new HsmError(HsmErrorCodes.HSM_KEY_EXISTS, `token "${pool.tokenLabel}" already holds a key labelled ${label}; use the next generation`, {
              details: { keyId: label, tokenLabel: pool.tokenLabel },
            });
          }
          const templates = keyPairTemplates(label, algorithm);
          // Async: RSA-4096 generation takes about half a second in SoftHSM2; keep the loop free.
          const pair = await api.C_GenerateKeyPairAsync(lease.session, templates.mechanism, templates.publicKey, templates.privateKey);
          const half = readTokenPublicKey(api, lease.session, pair.publicKey, label);
          return createPkcs11Signer({ pool, keyId: label, ...half, privateKey: { handle: pair.privateKey, epoch: lease.epoch } });
        } catch (error) {
          failure = error;
          throw toHsmError(error, `generate ${keyAlgorithmName(algorithm)} key ${label}`);
        } finally {
          pool.release(lease, failure);
        }
      });
      keygenQueue = run.catch(() => undefined);
      return run;
    },

    findSigner,

    requireSigner(caName: string, generation: number): Signer {
      const signer = findSigner(caName, generation);
      if (signer === undefined) {
        const keyId = keyLabel(caName, generation);
        throw new HsmError(HsmErrorCodes.HSM_KEY_NOT_FOUND, `key ${keyId} is not in token "${pool.tokenLabel}"`, {
          details: { keyId, tokenLabel: pool.tokenLabel },
        });
      }
      return signer;
    },

    listKeys(caName?: string): Pkcs11KeyInfo[] {
      if (caName !== undefined) assertCaName(caName);
      return withSessionSync('list keys', (lease) => {
        const labelsOf = (objectClass: number): Array<{ handle: Handle; label: string }> =>
          findObjects(api, lease.session, [{ type: pkcs11js.CKA_CLASS, value: objectClass }]).map((handle) => ({
            handle,
            label: readUtf8Attribute(api, lease.session, handle, pkcs11js.CKA_LABEL),
          }));
        const privateLabels = new Set(labelsOf(pkcs11js.CKO_PRIVATE_KEY).map((key) => key.label));
        const keys: Pkcs11KeyInfo[] = [];
        for (const { handle, label } of labelsOf(pkcs11js.CKO_PUBLIC_KEY)) {
          const parts = parseKeyLabel(label);
          if (parts === undefined || !privateLabels.has(label)) continue;
          if (caName !== undefined && parts.caName !== caName) continue;
          try {
            const { algorithm } = readTokenPublicKey(api, lease.session, handle, label);
            keys.push({ ...parts, algorithm, keyId: label });
          } catch (error) {
            // A foreign key that happens to look like ours: not a jitca CA key, leave it out.
            if (isHsmError(error, HsmErrorCodes.KEY_UNSUPPORTED)) continue;
            throw error;
          }
        }
        pool.assertTokenPresent();
        return keys.sort((a, b) => (a.caName === b.caName ? a.generation - b.generation : a.caName < b.caName ? -1 : 1));
      });
    },

    destroyKey(caName: string, generation: number): void {
      const label = keyLabel(caName, generation);
      withSessionSync(`destroy key ${label}`, (lease) => {
        const objects = findObjects(api, lease.session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
        if (objects.length === 0) {
          pool.assertTokenPresent();
          throw new HsmError(HsmErrorCodes.HSM_KEY_NOT_FOUND, `key ${label} is not in token "${pool.tokenLabel}"`, {
            details: { keyId: label, tokenLabel: pool.tokenLabel },
          });
        }
        for (const handle of objects) api.C_DestroyObject(lease.session, handle);
      });
    },

    close(): void {
      pool.close();
    },
  };
}

function assertSupportedAlgorithm(algorithm: KeyAlgorithm): void {
  const ok =
    algorithm.kind === 'ed25519' ||
    (algorithm.kind === 'ecdsa' && (algorithm.curve === 'P-256' || algorithm.curve === 'P-384')) ||
    (algorithm.kind === 'rsa' && (algorithm.bits === 2048 || algorithm.bits === 3072 || algorithm.bits === 4096));
  if (!ok) {
    throw new HsmError(HsmErrorCodes.KEY_UNSUPPORTED, `key algorithm ${JSON.stringify(algorithm)} is not supported; use ed25519, ecdsa-p256, ecdsa-p384, rsa-3072 or rsa-4096`);
  }
}
