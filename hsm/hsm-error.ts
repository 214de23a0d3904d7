/**
 * The key backend's own errors: hsm/ is a backend behind the key-manager seam (src/keys) and
 * knows nothing of jitca's error table. The codes keep the spelling jitca reports for them, so an
 * operator reads the same code in a backend test as in an API answer; src/keys/backend-errors.ts
 * maps each one to its jitca code, and a code added here does not compile until it is mapped.
 */
export const HsmErrorCodes = {
  /** The module, the token or a session is gone or failing: the same call may work later. */
  HSM_UNAVAILABLE: 'ERR_HSM_UNAVAILABLE',
  HSM_KEY_NOT_FOUND: 'ERR_HSM_KEY_NOT_FOUND',
  HSM_FAILURE: 'ERR_HSM_FAILURE',
  HSM_PIN: 'ERR_HSM_PIN',
  /** A key with this label already exists in the token: generation numbers are never reused. */
  HSM_KEY_EXISTS: 'ERR_HSM_KEY_EXISTS',
  /** A key algorithm (requested, or found in the token) the backend does not handle. */
  KEY_UNSUPPORTED: 'ERR_KEY_UNSUPPORTED',
  /** A sign option (hash) the backend does not handle. */
  REQUEST_INVALID: 'ERR_REQUEST_INVALID',
  /** A backend setting (module path, token label, session count, PIN file) is unusable. */
  CONFIG_INVALID: 'ERR_CONFIG_INVALID',
} as const;

export type HsmErrorCode = (typeof HsmErrorCodes)[keyof typeof HsmErrorCodes];

export interface HsmErrorOptions {
  /** True when the same call may succeed later (token or module came back). */
  retryable?: boolean;
  /** Context safe to show (operation, CKR_* name, key label); never a PIN. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class HsmError extends Error {
  readonly code: HsmErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: HsmErrorCode, message: string, options: HsmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HsmError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

export function isHsmError(value: unknown, code?: HsmErrorCode): value is HsmError {
  return value instanceof HsmError && (code === undefined || value.code === code);
}
