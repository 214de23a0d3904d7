/**
 * Every failure jitca reports carries a stable `code` (jose's errors.ts habit). Callers, the API's
 * status mapping and tests match on codes, never on message text. Messages say what was wrong and
 * what is allowed, and never contain secrets.
 */
export const ErrorCodes = {
  // Input: SSH wire format and public keys
  WIRE_TRUNCATED: 'ERR_WIRE_TRUNCATED',
  WIRE_TRAILING_BYTES: 'ERR_WIRE_TRAILING_BYTES',
  WIRE_INVALID: 'ERR_WIRE_INVALID',
  INPUT_TOO_LARGE: 'ERR_INPUT_TOO_LARGE',
  KEY_MALFORMED: 'ERR_KEY_MALFORMED',
  KEY_UNSUPPORTED: 'ERR_KEY_UNSUPPORTED',
  KEY_TOO_SMALL: 'ERR_KEY_TOO_SMALL',
  KEY_INVALID_POINT: 'ERR_KEY_INVALID_POINT',
  // Policy
  POLICY_INVALID: 'ERR_POLICY_INVALID',
  POLICY_DENIED: 'ERR_POLICY_DENIED',
  REQUEST_INVALID: 'ERR_REQUEST_INVALID',
  TTL_INVALID: 'ERR_TTL_INVALID',
  // Custody
  HSM_UNAVAILABLE: 'ERR_HSM_UNAVAILABLE',
  HSM_KEY_NOT_FOUND: 'ERR_HSM_KEY_NOT_FOUND',
  HSM_FAILURE: 'ERR_HSM_FAILURE',
  HSM_PIN: 'ERR_HSM_PIN',
  /** A key with this label already exists in the token: generation numbers are never reused. */
  HSM_KEY_EXISTS: 'ERR_HSM_KEY_EXISTS',
  // Store and audit
  STORE_UNAVAILABLE: 'ERR_STORE_UNAVAILABLE',
  STORE_CONFLICT: 'ERR_STORE_CONFLICT',
  /** The database rejected a write for a reason other than a fault or a conflict (a bug). */
  STORE_FAILURE: 'ERR_STORE_FAILURE',
  AUDIT_CHAIN_BROKEN: 'ERR_AUDIT_CHAIN_BROKEN',
  // Configuration
  CONFIG_INVALID: 'ERR_CONFIG_INVALID',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface JitcaErrorOptions {
  /** True when the same request may succeed later (HSM or database came back). */
  retryable?: boolean;
  /** Machine-readable context safe to show a client (rule names, limits); never secrets. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class JitcaError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: JitcaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JitcaError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

export function isJitcaError(value: unknown, code?: ErrorCode): value is JitcaError {
  return value instanceof JitcaError && (code === undefined || value.code === code);
}
