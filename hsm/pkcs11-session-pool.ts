import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11 } from 'pkcs11js';
import { HsmErrorCodes, HsmError } from './hsm-error.ts';
import { CKS_RW_USER_FUNCTIONS } from './pkcs11-constants.ts';
import { classifyPkcs11Failure, isPkcs11Return, pkcs11ReturnName, toHsmError } from './pkcs11-errors.ts';
import type { Pkcs11Module } from './pkcs11-module.ts';
import type { Pkcs11SignThreads } from './pkcs11-sign-thread.ts';
import { findTokenSlot } from './pkcs11-slot.ts';

export interface SessionLease {
  readonly session: Handle;
  /** Module epoch the session was opened in; handles from an older epoch are meaningless. */
  readonly epoch: number;
  /** Opened beyond the pool for a synchronous caller, closed again on release. */
  readonly temporary: boolean;
}

export interface Pkcs11SessionPoolOptions {
  module: Pkcs11Module;
  tokenLabel: string;
  pin: string;
  size: number;
  /** After a failed recovery, calls fail fast for this long before the next attempt. */
  recoveryIntervalMs: number;
  /** Signing threads this pool may use at most (pkcs11-sign-thread.ts); default 1. */
  signingThreads?: number;
}

interface Waiter {
  resolve(lease: SessionLease | undefined): void;
  reject(error: HsmError): void;
}

/** Keyed per process so the PIN itself never sits in the shared login record. */
const LOGIN_FINGERPRINT_KEY = randomBytes(32);

/**
 * A fixed number of logged-in R/W sessions on one token, shared by signers (PKCS#11 2.40 §5.6: a
 * session runs one operation at a time, so each signature borrows a session for C_SignInit +
 * C_Sign). The pool is also where faults are absorbed:
 * - a dead session (closed under us) is forgotten and a new one opened and logged in;
 * - a finalized module or a vanished token marks the pool down: calls fail fast with
 *   ERR_HSM_UNAVAILABLE (retryable) and the next call after `recoveryIntervalMs` re-initializes the
 *   module, finds the token by label again and logs in, so signing resumes once it is back;
 * - a rejected PIN is remembered and never retried, so a wrong PIN cannot lock the token.
 */
export class Pkcs11SessionPool {
  readonly api: PKCS11;
  readonly tokenLabel: string;
  readonly #module: Pkcs11Module;
  readonly #pin: string;
  readonly #size: number;
  readonly #recoveryIntervalMs: number;
  readonly #signingThreads: number;
  #slot: Handle | undefined;
  #slotEpoch = -1;
  #idle: SessionLease[] = [];
  /** Pooled sessions alive: idle plus leased (temporary ones not included). */
  #pooled = 0;
  /** Leases handed out and not yet released (pooled and temporary). */
  #leased = 0;
  #waiters: Waiter[] = [];
  #down: HsmError | undefined;
  #lastRecoveryAttempt: number | undefined;
  #lastObjectRefresh: number | undefined;
  #recovering: Promise<void> | undefined;
  #pinRejected: HsmError | undefined;
  #closed = false;
  #moduleReleased = false;

  constructor(options: Pkcs11SessionPoolOptions) {
    this.#module = options.module;
    this.api = options.module.api;
    this.tokenLabel = options.tokenLabel;
    this.#pin = options.pin;
    this.#size = options.size;
    this.#recoveryIntervalMs = options.recoveryIntervalMs;
    this.#signingThreads = options.signingThreads ?? 1;
    this.#module.holders.set(this.tokenLabel, (this.#module.holders.get(this.tokenLabel) ?? 0) + 1);
  }

  /** Finds the token and opens and logs in all sessions now, so a wrong PIN or label fails at start. */
  openAll(): void {
    try {
      this.#followModuleEpoch();
      while (this.#pooled < this.#size) this.#idle.push(this.#openSession(false));
    } catch (error) {
      throw this.#noteFailure(error, `open sessions on token "${this.tokenLabel}"`);
    }
  }

  /** Borrows a session, waiting while all are busy. Release it with release(). */
  async acquire(): Promise<SessionLease> {
    let recoveredOnce = false;
    for (;;) {
      this.#assertUsable();
      if (this.#down !== undefined) await this.#recover();
      // Only a draining module makes us wait; otherwise count the operation now, without a turn
      // through the microtask queue on every signature.
      if (this.#module.draining) await this.#module.beginOperation();
      else this.#module.beginOperationSync();
      let lease: SessionLease | undefined;
      try {
        this.#assertUsable();
        this.#followModuleEpoch();
        lease = this.#takeIdle() ?? (this.#pooled < this.#size ? this.#openSession(false) : undefined);
      } catch (error) {
        this.#module.endOperation();
        const failure = this.#noteFailure(error, `open a session on token "${this.tokenLabel}"`);
        // A module finalized under us shows up first here: one recovery inside this call.
        if (!recoveredOnce && this.#down !== undefined && failure.code === HsmErrorCodes.HSM_UNAVAILABLE) {
          recoveredOnce = true;
          continue;
        }
        throw failure;
      }
      if (lease !== undefined) {
        this.#leased += 1;
        return lease;
      }
      this.#module.endOperation();
      const handed = await new Promise<SessionLease | undefined>((resolve, reject) => {
        this.#waiters.push({ resolve, reject });
      });
      // A lease handed over by release() keeps its operation count and lease count.
      if (handed !== undefined) return handed;
    }
  }

  /**
   * Borrows a session without waiting, for synchronous callers (findSigner, listKeys): an idle
   * one, or a temporary extra session when all are busy. Synchronous code cannot interleave with
   * anything, so going past the pool size is brief.
   */
  acquireSync(): SessionLease {
    this.#assertUsable();
    if (this.#down !== undefined) this.#recoverSync();
    this.#module.beginOperationSync();
    try {
      this.#followModuleEpoch();
      const lease = this.#takeIdle() ?? this.#openSession(true);
      this.#leased += 1;
      return lease;
    } catch (error) {
      this.#module.endOperation();
      throw this.#noteFailure(error, `open a session on token "${this.tokenLabel}"`);
    }
  }

  /**
   * Returns a lease. `failure` is what the caller's PKCS#11 call threw, if anything: the pool
   * decides from it whether the session is reusable, dead or suspect, and whether the token is down.
   */
  release(lease: SessionLease, failure?: unknown): void {
    const reusable = this.#settle(lease, failure);
    const current = lease.epoch === this.#module.epoch;
    if (lease.temporary) {
      if (reusable && current) closeQuietly(this.api, lease.session);
    } else if (reusable && current && !this.#closed) {
      const waiter = this.#module.draining ? undefined : this.#waiters.shift();
      if (waiter !== undefined) {
        waiter.resolve(lease);
        return;
      }
      this.#idle.push(lease);
    } else {
      if (reusable && current) closeQuietly(this.api, lease.session);
      this.#pooled -= 1;
    }
    this.#leased -= 1;
    this.#module.endOperation();
    // Something changed (a session freed, dropped, or the module is draining): let one waiter
    // run its acquire loop again.
    this.#waiters.shift()?.resolve(undefined);
    if (this.#closed && this.#leased === 0) this.#releaseModule();
  }

  /**
   * Logs in again through this session if the application lost its login (someone called
   * C_Logout, or every session was closed): private objects are invisible until then, and
   * SoftHSM2 voids their handles. True when it logged in.
   */
  logInAgainIfNeeded(lease: SessionLease): boolean {
    if (this.api.C_GetSessionInfo(lease.session).state === CKS_RW_USER_FUNCTIONS) return false;
    this.#ensureLoggedIn(lease.session);
    return true;
  }

  /**
   * Called when a key lookup comes back empty: distinguishes "the key is not in the token" from
   * "the token is gone" (SoftHSM2 then answers C_GetTokenInfo with CKR_GENERAL_ERROR).
   */
  assertTokenPresent(): void {
    if (this.#slot === undefined) throw this.#unavailable();
    try {
      this.api.C_GetTokenInfo(this.#slot);
    } catch (error) {
      throw this.#noteFailure(error, `read token "${this.tokenLabel}"`);
    }
  }

  /**
   * Called when a key lookup finds nothing on a token that is present. SoftHSM2 reads its object
   * files at C_Initialize and does not see objects restored behind its back (a key put back from
   * a backup) until it is initialized again: the next acquire re-initializes the module, at most
   * once per recovery interval, so a restored key signs again without a restart. The request that
   * found nothing still fails.
   */
  noteObjectMissing(reason: HsmError): void {
    const last = this.#lastObjectRefresh;
    if (last !== undefined && Date.now() - last < this.#recoveryIntervalMs) return;
    this.#lastObjectRefresh = Date.now();
    this.#markDown(reason);
  }

  /** Closes idle sessions now and the rest as they come back; the module reference goes with the last. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#closedError());
    const current = this.#idle.filter((lease) => lease.epoch === this.#module.epoch);
    const holders = (this.#module.holders.get(this.tokenLabel) ?? 1) - 1;
    if (holders <= 0) this.#module.holders.delete(this.tokenLabel);
    else this.#module.holders.set(this.tokenLabel, holders);
    const first = current[0];
    if (first !== undefined && holders <= 0 && this.#leased === 0) {
      // Login state is per application and token (PKCS#11 2.40 §5.6): log out only when no other
      // holder in this process uses the token.
      try {
        this.api.C_Logout(first.session);
      } catch {
        // Already logged out (or the session is gone): closing the sessions ends it anyway.
      }
      this.#module.logins.delete(this.tokenLabel);
    }
    for (const lease of current) closeQuietly(this.api, lease.session);
    this.#pooled -= this.#idle.length;
    this.#idle = [];
    if (this.#leased === 0) this.#releaseModule();
  }

  /** The module's signing threads (C_SignInit + C_Sign on a leased session). */
  get signThreads(): Pkcs11SignThreads {
    const threads = this.#module.signThreads;
    threads.allow(this.#signingThreads);
    return threads;
  }

  /** Number of pooled sessions (the parallelism limit). */
  get size(): number {
    return this.#size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #releaseModule(): void {
    if (this.#moduleReleased) return;
    this.#moduleReleased = true;
    this.#module.release();
  }

  #assertUsable(): void {
    if (this.#closed) throw this.#closedError();
    if (this.#pinRejected !== undefined) throw this.#pinRejected;
  }

  #closedError(): HsmError {
    return new HsmError(HsmErrorCodes.HSM_UNAVAILABLE, `PKCS#11 token "${this.tokenLabel}" was closed by this process`, {
      // Closed for good (shutdown), not a token that comes back.
      retryable: false,
      details: { tokenLabel: this.tokenLabel },
    });
  }

  #unavailable(): HsmError {
    const cause = this.#down;
    const ckr = cause?.details?.['ckr'];
    return new HsmError(
      HsmErrorCodes.HSM_UNAVAILABLE,
      `PKCS#11 token "${this.tokenLabel}" is unavailable${cause === undefined ? '' : ` (${cause.message})`}; retry later`,
      { retryable: true, details: { tokenLabel: this.tokenLabel, ...(typeof ckr === 'string' ? { ckr } : {}) }, cause },
    );
  }

  #markDown(reason: HsmError): void {
    if (this.#down === undefined) this.#lastRecoveryAttempt = undefined; // first attempt right away
    this.#down = reason;
  }

  /** Maps a failure, and records what it says about the token (down, PIN rejected). */
  #noteFailure(error: unknown, operation: string): HsmError {
    const mapped = toHsmError(error, operation);
    const kind = classifyPkcs11Failure(error);
    if (kind === 'module' || kind === 'device') this.#markDown(mapped);
    if (kind === 'pin') this.#pinRejected = mapped;
    return mapped;
  }

  async #recover(): Promise<void> {
    if (this.#recovering !== undefined) return this.#recovering;
    this.#assertRecoveryDue();
    this.#lastRecoveryAttempt = Date.now();
    this.#recovering = (async () => {
      try {
        await this.#module.reinitialize();
        this.#followModuleEpoch();
        this.#down = undefined;
        this.#lastRecoveryAttempt = undefined;
      } catch (error) {
        this.#down = toHsmError(error, `recover token "${this.tokenLabel}"`);
        throw this.#unavailable();
      } finally {
        this.#recovering = undefined;
      }
    })();
    return this.#recovering;
  }

  #recoverSync(): void {
    if (this.#recovering !== undefined || this.#module.operationsInFlight > 0) throw this.#unavailable();
    this.#assertRecoveryDue();
    this.#lastRecoveryAttempt = Date.now();
    let reinitialized: boolean;
    try {
      reinitialized = this.#module.reinitializeSync();
      if (reinitialized) this.#followModuleEpoch();
    } catch (error) {
      this.#down = toHsmError(error, `recover token "${this.tokenLabel}"`);
      throw this.#unavailable();
    }
    if (!reinitialized) throw this.#unavailable(); // another holder's operations still run
    this.#down = undefined;
    this.#lastRecoveryAttempt = undefined;
  }

  #assertRecoveryDue(): void {
    const last = this.#lastRecoveryAttempt;
    if (last !== undefined && Date.now() - last < this.#recoveryIntervalMs) throw this.#unavailable();
  }

  /**
   * After a (re-)initialization every old session and object handle is void and slot ids may
   * differ (SoftHSM2 derives them from token serials): forget the old sessions without touching
   * them — their numbers may already belong to new sessions — and find the slot again by label.
   */
  #followModuleEpoch(): void {
    if (this.#slotEpoch === this.#module.epoch && this.#slot !== undefined) return;
    try {
      this.#module.ensureInitialized();
      if (this.#slotEpoch !== this.#module.epoch) {
        this.#pooled -= this.#idle.length;
        this.#idle = [];
        this.#slot = undefined;
        this.#slotEpoch = this.#module.epoch;
      }
      this.#slot = findTokenSlot(this.api, this.tokenLabel, this.#module.modulePath);
    } catch (error) {
      // No module or no token with our label: down until a recovery finds it again.
      const mapped = toHsmError(error, `find token "${this.tokenLabel}"`);
      this.#markDown(mapped);
      throw mapped;
    }
  }

  #takeIdle(): SessionLease | undefined {
    for (;;) {
      const lease = this.#idle.pop();
      if (lease === undefined || lease.epoch === this.#module.epoch) return lease;
      this.#pooled -= 1;
    }
  }

  #openSession(temporary: boolean): SessionLease {
    const slot = this.#slot;
    if (slot === undefined) throw this.#unavailable();
    const session = this.api.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
    try {
      this.#ensureLoggedIn(session);
    } catch (error) {
      closeQuietly(this.api, session);
      throw error;
    }
    if (!temporary) this.#pooled += 1;
    return { session, epoch: this.#module.epoch, temporary };
  }

  /**
   * Login is per application and token, not per session (PKCS#11 2.40 §5.6): a new session is
   * already logged in when another one is. Then the PIN is compared with the one that logged in
   * (a second holder in this process must not ride on someone else's login with a wrong PIN).
   */
  #ensureLoggedIn(session: Handle): void {
    if (this.#pinRejected !== undefined) throw this.#pinRejected;
    if (this.api.C_GetSessionInfo(session).state === CKS_RW_USER_FUNCTIONS) {
      this.#assertSameLogin();
      return;
    }
    try {
      this.api.C_Login(session, pkcs11js.CKU_USER, this.#pin);
    } catch (error) {
      if (isPkcs11Return(error, 'CKR_USER_ALREADY_LOGGED_IN')) {
        this.#assertSameLogin();
        return;
      }
      throw error;
    }
    this.#module.logins.set(this.tokenLabel, pinFingerprint(this.#pin));
  }

  #assertSameLogin(): void {
    const recorded = this.#module.logins.get(this.tokenLabel);
    if (recorded === undefined || timingSafeEqual(recorded, pinFingerprint(this.#pin))) return;
    this.#pinRejected = new HsmError(
      HsmErrorCodes.HSM_PIN,
      `token "${this.tokenLabel}" is already logged in in this process with a different PIN; check the configured PIN`,
      { details: { tokenLabel: this.tokenLabel } },
    );
    throw this.#pinRejected;
  }

  /** True when the session may go back to the pool. */
  #settle(lease: SessionLease, failure: unknown): boolean {
    if (failure === undefined) return true;
    const kind = classifyPkcs11Failure(failure);
    switch (kind) {
      case 'session':
        this.#pruneIdle();
        // Not logged in any more (someone logged the application out): the session is alive,
        // and the pruning above logged in again through an idle one or the next open will.
        return isPkcs11Return(failure, 'CKR_USER_NOT_LOGGED_IN');
      case 'module':
        this.#markDown(toHsmError(failure, `use token "${this.tokenLabel}"`));
        return false; // the handle died with the module: never touch it again
      case 'device':
        this.#markDown(toHsmError(failure, `use token "${this.tokenLabel}"`));
        closeQuietly(this.api, lease.session);
        return false;
      case 'pin':
        this.#pinRejected = toHsmError(failure, `login to token "${this.tokenLabel}"`);
        return true;
      case 'object':
        return true;
      case 'other':
        if (pkcs11ReturnName(failure) === undefined) return true; // our own error, session untouched
        // An unexpected CKR_*: the session may hold a half-finished operation; start clean.
        closeQuietly(this.api, lease.session);
        return false;
    }
  }

  /**
   * After one session died, check the idle ones (C_CloseAllSessions kills them all at once):
   * forget the dead, and log in again if the application lost its login.
   */
  #pruneIdle(): void {
    const alive: SessionLease[] = [];
    for (const lease of this.#idle) {
      let state: number;
      try {
        state = this.api.C_GetSessionInfo(lease.session).state;
      } catch {
        this.#pooled -= 1; // dead: forget it without another call on its handle
        continue;
      }
      try {
        if (state !== CKS_RW_USER_FUNCTIONS) this.#ensureLoggedIn(lease.session);
        alive.push(lease);
      } catch {
        closeQuietly(this.api, lease.session);
        this.#pooled -= 1;
      }
    }
    this.#idle = alive;
  }
}

function pinFingerprint(pin: string): Buffer {
  return createHmac('sha256', LOGIN_FINGERPRINT_KEY).update(pin, 'utf8').digest();
}

function closeQuietly(api: PKCS11, session: Handle): void {
  try {
    api.C_CloseSession(session);
  } catch {
    // Already closed with its token or module: nothing left to release.
  }
}
