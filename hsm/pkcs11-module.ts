import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import type { PKCS11 } from 'pkcs11js';
import { isPkcs11Return, moduleLoadError, toHsmError } from './pkcs11-errors.ts';
import { createPkcs11SignThreads, type Pkcs11SignThreads } from './pkcs11-sign-thread.ts';

/**
 * One loaded, initialized PKCS#11 module shared by everything in the process that uses it.
 *
 * Why shared: a module has one global state per process. pkcs11js lets you construct several
 * PKCS11 objects, but they all dlopen the same library, so a second C_Initialize answers
 * CKR_CRYPTOKI_ALREADY_INITIALIZED and one holder's C_Finalize kills everybody's sessions
 * (measured on SoftHSM2 2.6.1). Holders count references; the last release finalizes.
 *
 * Why the epoch and operation counting: after C_Finalize + C_Initialize every session and object
 * handle from before is meaningless and numbers get reused, so holders compare epochs and drop
 * old handles without touching them. Re-initializing while a signature runs on a signing thread
 * (pkcs11-sign-thread.ts) would pull the library out from under that thread, so reinitialize()
 * waits for running operations to drain and holds new ones back until it is done.
 */
export interface Pkcs11Module {
  readonly api: PKCS11;
  readonly modulePath: string;
  /** Increases each time the module is (re)initialized. */
  readonly epoch: number;
  /** The SOFTHSM2_CONF value in effect at the last C_Initialize (SoftHSM2 reads it only then). */
  readonly initializedWithSoftHsmConf: string | undefined;
  /** Waits while a re-initialization drains, then counts one running operation. */
  beginOperation(): Promise<void>;
  /** Counts one running operation without waiting (synchronous callers, which cannot overlap). */
  beginOperationSync(): void;
  endOperation(): void;
  /** True while a re-initialization waits for running operations to finish. */
  readonly draining: boolean;
  /** Number of operations currently running against this module. */
  readonly operationsInFlight: number;
  /** C_Finalize + C_Initialize once running operations drain; concurrent callers share one run. */
  reinitialize(): Promise<void>;
  /** Same, now; only when nothing is running. Returns false (and does nothing) otherwise. */
  reinitializeSync(): boolean;
  /** Ensures C_Initialize has succeeded (after a failed re-initialization it is retried here). */
  ensureInitialized(): void;
  /** Where signatures run (C_SignInit + C_Sign off the event loop); started as signatures need them. */
  readonly signThreads: Pkcs11SignThreads;
  /** Remembers which PIN logged in to a token, so a second holder with another PIN is refused. */
  readonly logins: Map<string, Buffer>;
  /** How many open pools use each token label, so only the last one logs out. */
  readonly holders: Map<string, number>;
  /** Drops this holder's reference; the last one finalizes the module. Idempotent. */
  release(): void;
}

interface SharedModule {
  readonly api: PKCS11;
  readonly modulePath: string;
  references: number;
  initialized: boolean;
  /** False when someone outside this registry had already initialized it; then we never finalize. */
  ownsInitialization: boolean;
  epoch: number;
  softHsmConf: string | undefined;
  inFlight: number;
  drain: { promise: Promise<void>; resolveDrained: () => void } | undefined;
  logins: Map<string, Buffer>;
  holders: Map<string, number>;
  signThreads: Pkcs11SignThreads | undefined;
}

const modules = new Map<string, SharedModule>();

/** Loads (once per process) and initializes the module at `modulePath`, adding one reference. */
export function acquirePkcs11Module(modulePath: string): Pkcs11Module {
  const key = registryKey(modulePath);
  let shared = modules.get(key);
  if (shared === undefined) {
    const api = new pkcs11js.PKCS11();
    try {
      api.load(modulePath);
    } catch (error) {
      throw moduleLoadError(modulePath, error);
    }
    // The library stays loaded for the life of the process: dlclose of a module that pulled in
    // its own libcrypto is a classic source of crashes at exit, and reloading buys nothing.
    shared = {
      api,
      modulePath,
      references: 0,
      initialized: false,
      ownsInitialization: true,
      epoch: 0,
      softHsmConf: undefined,
      inFlight: 0,
      drain: undefined,
      logins: new Map(),
      holders: new Map(),
      signThreads: undefined,
    };
    modules.set(key, shared);
  }
  initialize(shared);
  shared.references += 1;
  return handleFor(shared);
}

function registryKey(modulePath: string): string {
  const absolute = path.resolve(modulePath);
  return existsSync(absolute) ? realpathSync(absolute) : absolute;
}

function initialize(shared: SharedModule): void {
  if (shared.initialized) return;
  try {
    // CKF_OS_LOCKING_OK: signatures run on the signing threads while the event loop uses other
    // sessions; without it concurrent calls crashed the process (MACHINE-NOTES.md).
    shared.api.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    shared.ownsInitialization = true;
  } catch (error) {
    if (!isPkcs11Return(error, 'CKR_CRYPTOKI_ALREADY_INITIALIZED')) {
      throw toHsmError(error, `C_Initialize of ${shared.modulePath}`);
    }
    shared.ownsInitialization = false;
  }
  shared.initialized = true;
  shared.epoch += 1;
  shared.softHsmConf = process.env['SOFTHSM2_CONF'];
  shared.logins.clear();
}

function finalize(shared: SharedModule): void {
  try {
    shared.api.C_Finalize();
  } catch {
    // CKR_CRYPTOKI_NOT_INITIALIZED (someone finalized it already) leaves the state we want.
  }
  shared.initialized = false;
}

function reinitializeNow(shared: SharedModule): void {
  finalize(shared);
  try {
    initialize(shared);
  } finally {
    // Even when C_Initialize failed, every handle from before is gone.
    if (!shared.initialized) shared.epoch += 1;
  }
}

function handleFor(shared: SharedModule): Pkcs11Module {
  let released = false;
  let reinitializing: Promise<void> | undefined;
  const module: Pkcs11Module = {
    api: shared.api,
    modulePath: shared.modulePath,
    get epoch() {
      return shared.epoch;
    },
    get initializedWithSoftHsmConf() {
      return shared.softHsmConf;
    },
    get draining() {
      return shared.drain !== undefined;
    },
    get operationsInFlight() {
      return shared.inFlight;
    },
    logins: shared.logins,
    holders: shared.holders,
    get signThreads() {
      shared.signThreads ??= createPkcs11SignThreads(shared.modulePath);
      return shared.signThreads;
    },
    async beginOperation() {
      while (shared.drain !== undefined) await shared.drain.promise;
      shared.inFlight += 1;
    },
    beginOperationSync() {
      shared.inFlight += 1;
    },
    endOperation() {
      shared.inFlight -= 1;
      if (shared.inFlight === 0) shared.drain?.resolveDrained();
    },
    reinitialize() {
      if (reinitializing !== undefined) return reinitializing;
      if (shared.drain !== undefined) {
        // Another holder is already re-initializing: wait for it rather than doing it twice.
        return shared.drain.promise;
      }
      let resolveDrained: () => void = () => undefined;
      const drained = new Promise<void>((resolve) => {
        resolveDrained = resolve;
      });
      let finish: () => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        finish = resolve;
      });
      shared.drain = { promise: done, resolveDrained };
      if (shared.inFlight === 0) resolveDrained();
      reinitializing = drained
        .then(() => reinitializeNow(shared))
        .finally(() => {
          shared.drain = undefined;
          reinitializing = undefined;
          finish();
        });
      return reinitializing;
    },
    reinitializeSync() {
      if (shared.inFlight !== 0 || shared.drain !== undefined) return false;
      reinitializeNow(shared);
      return true;
    },
    ensureInitialized() {
      initialize(shared);
    },
    release() {
      if (released) return;
      released = true;
      shared.references -= 1;
      if (shared.references !== 0) return;
      // Nothing signs any more (the last holder's operations have ended): the thread goes too.
      void shared.signThreads?.close();
      shared.signThreads = undefined;
      if (shared.initialized && shared.ownsInitialization) finalize(shared);
    },
  };
  return module;
}
