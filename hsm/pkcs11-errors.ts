import pkcs11js from 'pkcs11js';
import { HsmErrorCodes, HsmError, isHsmError } from './hsm-error.ts';

/**
 * What a failed PKCS#11 call means for the caller. The pool and the signer act on the kind
 * (drop a session, re-find a key, re-initialize the module); callers only see the HsmError.
 */
export type Pkcs11FailureKind =
  /** Our session handle is dead (closed, or its login is gone): open a fresh one. */
  | 'session'
  /** The module was finalized under us: C_Initialize again, then new sessions and login. */
  | 'module'
  /** A cached object handle is stale (token re-read, key deleted): find the key again. */
  | 'object'
  /** The token or device itself is gone or failing: unavailable until it comes back. */
  | 'device'
  | 'pin'
  | 'other';

const FAILURE_KINDS: Readonly<Record<string, Pkcs11FailureKind>> = {
  CKR_SESSION_HANDLE_INVALID: 'session',
  CKR_SESSION_CLOSED: 'session',
  CKR_USER_NOT_LOGGED_IN: 'session',
  CKR_CRYPTOKI_NOT_INITIALIZED: 'module',
  CKR_OBJECT_HANDLE_INVALID: 'object',
  CKR_KEY_HANDLE_INVALID: 'object',
  CKR_DEVICE_REMOVED: 'device',
  CKR_DEVICE_ERROR: 'device',
  CKR_DEVICE_MEMORY: 'device',
  CKR_TOKEN_NOT_PRESENT: 'device',
  CKR_TOKEN_NOT_RECOGNIZED: 'device',
  // SoftHSM2 answers C_GetTokenInfo with CKR_GENERAL_ERROR once its token directory is gone.
  CKR_GENERAL_ERROR: 'device',
  CKR_SESSION_COUNT: 'device',
  CKR_PIN_INCORRECT: 'pin',
  CKR_PIN_LEN_RANGE: 'pin',
  CKR_PIN_LOCKED: 'pin',
  CKR_PIN_INVALID: 'pin',
  CKR_PIN_EXPIRED: 'pin',
  CKR_USER_PIN_NOT_INITIALIZED: 'pin',
};

/** The CKR_* name of a pkcs11js Pkcs11Error (its message is exactly that name), else undefined. */
export function pkcs11ReturnName(error: unknown): string | undefined {
  if (error instanceof pkcs11js.Pkcs11Error && /^CKR_[A-Z0-9_]+$/.test(error.message)) return error.message;
  return undefined;
}

export function classifyPkcs11Failure(error: unknown): Pkcs11FailureKind {
  const name = pkcs11ReturnName(error);
  return name === undefined ? 'other' : (FAILURE_KINDS[name] ?? 'other');
}

export function isPkcs11Return(error: unknown, name: string): boolean {
  return pkcs11ReturnName(error) === name;
}

/**
 * Maps any failure of a PKCS#11 call to an HsmError. `operation` names what jitca was doing
 * ("sign with ssh-user-ca/2", "login to token jitca"); it goes into the message and details.
 * The message is built from our own words and the CKR_* name only: a PIN passed to C_Login can
 * never end up in it.
 */
export function toHsmError(error: unknown, operation: string): HsmError {
  if (isHsmError(error)) return error;
  const ckr = pkcs11ReturnName(error);
  if (ckr === undefined) {
    return new HsmError(HsmErrorCodes.HSM_FAILURE, `PKCS#11 ${operation} failed unexpectedly`, {
      details: { operation },
      cause: error,
    });
  }
  const details = { operation, ckr };
  switch (FAILURE_KINDS[ckr]) {
    case 'session':
    case 'module':
    case 'device':
      return new HsmError(HsmErrorCodes.HSM_UNAVAILABLE, `HSM unavailable during ${operation} (${ckr}); retry later`, {
        retryable: true,
        details,
        cause: error,
      });
    case 'pin':
      return new HsmError(
        HsmErrorCodes.HSM_PIN,
        `the token rejected the user PIN during ${operation} (${ckr}); check the configured PIN file or variable`,
        { details, cause: error },
      );
    case 'object':
      return new HsmError(HsmErrorCodes.HSM_KEY_NOT_FOUND, `key handle no longer valid during ${operation} (${ckr})`, {
        details,
        cause: error,
      });
    default:
      return new HsmError(HsmErrorCodes.HSM_FAILURE, `PKCS#11 ${operation} failed with ${ckr}`, { details, cause: error });
  }
}

/** dlopen of the module failed (missing file, not a PKCS#11 library): the HSM is unavailable. */
export function moduleLoadError(modulePath: string, error: unknown): HsmError {
  const reason = error instanceof Error ? error.message : String(error);
  return new HsmError(HsmErrorCodes.HSM_UNAVAILABLE, `cannot load PKCS#11 module ${modulePath}: ${reason}`, {
    retryable: true,
    details: { modulePath },
    cause: error,
  });
}

export function tokenNotFoundError(tokenLabel: string, modulePath: string, presentLabels: readonly string[]): HsmError {
  const present = presentLabels.length === 0 ? 'no initialized tokens' : `tokens ${presentLabels.map((l) => `"${l}"`).join(', ')}`;
  return new HsmError(
    HsmErrorCodes.HSM_UNAVAILABLE,
    `PKCS#11 token "${tokenLabel}" not found in ${modulePath} (it has ${present})`,
    { retryable: true, details: { tokenLabel, modulePath, presentLabels: [...presentLabels] } },
  );
}
