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
  // Input: X.509 (src/x509)
  /** A PKCS#10 request that is not strict DER, not a request, or has a subject or field jitca refuses. */
  CSR_INVALID: 'ERR_CSR_INVALID',
  /** A PKCS#10 request whose self-signature does not verify with the key it carries. */
  CSR_SIGNATURE: 'ERR_CSR_SIGNATURE',
  /** A certificate (or an extension in one) that is not strict DER or not what it claims to be. */
  CERTIFICATE_INVALID: 'ERR_CERTIFICATE_INVALID',
  // Input: hardware attestation (src/attestation)
  /** Attestation input that cannot be read: not PEM/DER certificates, a truncated ssh-sk-attest blob, bad CBOR. */
  ATTESTATION_MALFORMED: 'ERR_ATTESTATION_MALFORMED',
  /** The certificates do not chain, link by link, to a configured root: signature, validity, CA flag, no root. */
  ATTESTATION_CHAIN: 'ERR_ATTESTATION_CHAIN',
  /** The attested public key is not the key given (or the CSR's own key). */
  ATTESTATION_KEY_MISMATCH: 'ERR_ATTESTATION_KEY_MISMATCH',
  /** The FIDO enrollment signature does not verify over the authenticator data and this challenge. */
  ATTESTATION_CHALLENGE: 'ERR_ATTESTATION_CHALLENGE',
  /** The FIDO authenticator data is for another application (RP ID hash) or lacks user presence. */
  ATTESTATION_AUTHENTICATOR: 'ERR_ATTESTATION_AUTHENTICATOR',
  // Authentication (src/authn). Every code but AUTHN_UNAVAILABLE is the caller's: 401, retry with a
  // new token. AUTHN_UNAVAILABLE is the identity provider's JWKS being unreachable: 503, retryable.
  /** No credential was presented (no Authorization header, empty token, no client certificate). */
  AUTHN_MISSING: 'ERR_AUTHN_MISSING',
  /** Not a well-formed bearer token / compact JWS, or larger than jitca accepts. */
  AUTHN_MALFORMED: 'ERR_AUTHN_MALFORMED',
  /** Bad signature, unknown `kid`, or an algorithm outside the allowlist (`none`, HS*, ...). */
  AUTHN_SIGNATURE: 'ERR_AUTHN_SIGNATURE',
  AUTHN_EXPIRED: 'ERR_AUTHN_EXPIRED',
  /** `nbf` or `iat` lies in the future beyond the allowed clock skew. */
  AUTHN_NOT_YET_VALID: 'ERR_AUTHN_NOT_YET_VALID',
  AUTHN_ISSUER: 'ERR_AUTHN_ISSUER',
  AUTHN_AUDIENCE: 'ERR_AUTHN_AUDIENCE',
  /** A claim is missing, has the wrong type or size, names a `system:` group, or the lifetime is too long. */
  AUTHN_CLAIMS: 'ERR_AUTHN_CLAIMS',
  /** The identity provider's key set could not be fetched; the same token may verify later. */
  AUTHN_UNAVAILABLE: 'ERR_AUTHN_UNAVAILABLE',
  /** A valid credential that does not name an allowlisted SSH gateway (certificate name or client id). */
  AUTHN_GATEWAY_NOT_ALLOWED: 'ERR_AUTHN_GATEWAY_NOT_ALLOWED',
  /** A local login's challenge is unknown, expired, already spent, or was issued for another name. */
  AUTHN_CHALLENGE: 'ERR_AUTHN_CHALLENGE',
  /**
   * No local user of that name holds the key that signed (removed, never registered, or another
   * key), or a session token's user is gone: one code, so the answer does not say which.
   */
  AUTHN_LOCAL_USER: 'ERR_AUTHN_LOCAL_USER',
  // Policy
  POLICY_INVALID: 'ERR_POLICY_INVALID',
  POLICY_DENIED: 'ERR_POLICY_DENIED',
  REQUEST_INVALID: 'ERR_REQUEST_INVALID',
  REQUEST_NOT_FOUND: 'ERR_REQUEST_NOT_FOUND',
  /** No API route has this method and path (fastify's own 404 body carries no code). */
  ROUTE_NOT_FOUND: 'ERR_ROUTE_NOT_FOUND',
  CERTIFICATE_NOT_FOUND: 'ERR_CERTIFICATE_NOT_FOUND',
  REQUEST_NOT_PENDING: 'ERR_REQUEST_NOT_PENDING',
  /** Another decision on the request (another replica, another approver) was recorded after this one read it. */
  REQUEST_CHANGED: 'ERR_REQUEST_CHANGED',
  APPROVAL_REFUSED: 'ERR_APPROVAL_REFUSED',
  FORBIDDEN: 'ERR_FORBIDDEN',
  RATE_LIMITED: 'ERR_RATE_LIMITED',
  /** The request's headers and body did not all arrive within server.requestTimeoutMs. */
  REQUEST_TIMEOUT: 'ERR_REQUEST_TIMEOUT',
  TTL_INVALID: 'ERR_TTL_INVALID',
  /** trust-sync's X-Jitca-Host or X-Jitca-Installed header is malformed (too long, bad characters, not fingerprints). */
  HOST_REPORT_INVALID: 'ERR_HOST_REPORT_INVALID',

  // Key enrollment (src/enrollment)
  /** An enrollment challenge that is unknown, expired, already used, or issued to someone else. */
  CHALLENGE_INVALID: 'ERR_CHALLENGE_INVALID',
  /** A key enrolled without evidence that proves possession, and without the signature that would. */
  KEY_POSSESSION_MISSING: 'ERR_KEY_POSSESSION_MISSING',
  /** The possession signature is malformed, in another namespace, by another key or over another challenge. */
  KEY_POSSESSION_INVALID: 'ERR_KEY_POSSESSION_INVALID',
  /** Attestation evidence of a kind this CA does not verify (yet). */
  ATTESTATION_UNSUPPORTED: 'ERR_ATTESTATION_UNSUPPORTED',
  /** The key is already enrolled by the caller. */
  KEY_ALREADY_ENROLLED: 'ERR_KEY_ALREADY_ENROLLED',
  /** The key is enrolled by another person: a key belongs to one person. */
  KEY_ENROLLED_ELSEWHERE: 'ERR_KEY_ENROLLED_ELSEWHERE',
  /** No enrolled key with this id that the caller may see. */
  ENROLLED_KEY_NOT_FOUND: 'ERR_ENROLLED_KEY_NOT_FOUND',
  // Local identities (`jitca users`)
  /** A local user with this name, or one holding this key, is already registered. */
  LOCAL_USER_CONFLICT: 'ERR_LOCAL_USER_CONFLICT',
  LOCAL_USER_NOT_FOUND: 'ERR_LOCAL_USER_NOT_FOUND',
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
  /** An audit archive that is not what the log recorded: not a chain continuing from the checkpoint, unrecorded, or another SHA-256. */
  AUDIT_ARCHIVE_INVALID: 'ERR_AUDIT_ARCHIVE_INVALID',
  /** `audit truncate` refused: the archive's newest record is younger than retention.auditMinAgeDays, or nothing to remove. */
  AUDIT_TRUNCATE_REFUSED: 'ERR_AUDIT_TRUNCATE_REFUSED',
  // Engineer helper (client side)
  SERVER_UNREACHABLE: 'ERR_SERVER_UNREACHABLE',
  /** TLS to the server failed: its certificate is not trusted, expired or for another name, or it does not speak TLS. */
  SERVER_TLS: 'ERR_SERVER_TLS',
  SERVER_REFUSED: 'ERR_SERVER_REFUSED',
  LOGIN_REQUIRED: 'ERR_LOGIN_REQUIRED',
  /** A trust bundle (bundle.json) not signed by a key the host's pinned bundle lists, or not a valid JWS: nothing installed. */
  TRUST_BUNDLE_UNTRUSTED: 'ERR_TRUST_BUNDLE_UNTRUSTED',
  // Kubernetes API (src/k8s)
  /** The apiserver could not be reached, timed out, or answered 429/5xx: the same call may work later. */
  KUBE_UNAVAILABLE: 'ERR_KUBE_UNAVAILABLE',
  /** 409: the object changed since it was read (stale resourceVersion); re-read and decide again. */
  KUBE_CONFLICT: 'ERR_KUBE_CONFLICT',
  /** Any other refusal (401, 403, 404, 422, ...); details.status holds the HTTP status and reason. */
  KUBE_REQUEST_FAILED: 'ERR_KUBE_REQUEST_FAILED',
  // CA rotation (rotation/)
  /** Another process holds the rotation lock, or this one lost it (its fencing number is stale). */
  ROTATION_LOCKED: 'ERR_ROTATION_LOCKED',
  /** A rotation step that cannot be taken in the CA's state (no generation to roll back to, no --yes). */
  ROTATION_REFUSED: 'ERR_ROTATION_REFUSED',
  /** A singleton job's write under a leader lease term that has passed (src/ha): nothing was written. */
  LEADER_FENCED: 'ERR_LEADER_FENCED',
  // Configuration
  CONFIG_INVALID: 'ERR_CONFIG_INVALID',
  /** The SSH gateway refused a certificate at login; details.rule names the check. */
  GATEWAY_REFUSED: 'ERR_GATEWAY_REFUSED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * Whether the same request may succeed if it is made again unchanged:
 * - `no`: it fails again; the request itself (or the file, or the token) must change.
 * - `later`: it may, once a part comes back by itself (HSM, database, apiserver, identity
 *   provider). A JitcaError with such a code is `retryable` unless its thrower knows better.
 * - `after-fix`: only once an operator fixes the CA (PIN, key, configuration, permissions, a bug).
 *   Not `retryable` for a caller, but a controller keeps such work queued instead of failing it.
 */
export type RetryClass = 'no' | 'later' | 'after-fix';

export interface ErrorClass {
  /** 4xx: the caller's request was refused and nothing was written; 5xx: a part of the CA failed. */
  readonly status: 400 | 401 | 403 | 404 | 408 | 409 | 413 | 429 | 500 | 503;
  readonly retry: RetryClass;
}

/**
 * The one table of what each code means to a caller (CONTRIBUTING.md, "The error table"): the
 * API's HTTP status, and whether the Kubernetes controller and clients retry. Typed by ErrorCode,
 * so a new code does not compile until it has a row here.
 */
export const errorClasses: { readonly [code in ErrorCode]: ErrorClass } = {
  ERR_WIRE_TRUNCATED: { status: 400, retry: 'no' },
  ERR_WIRE_TRAILING_BYTES: { status: 400, retry: 'no' },
  ERR_WIRE_INVALID: { status: 400, retry: 'no' },
  ERR_INPUT_TOO_LARGE: { status: 413, retry: 'no' },
  ERR_KEY_MALFORMED: { status: 400, retry: 'no' },
  ERR_KEY_UNSUPPORTED: { status: 400, retry: 'no' },
  ERR_KEY_TOO_SMALL: { status: 400, retry: 'no' },
  ERR_KEY_INVALID_POINT: { status: 400, retry: 'no' },
  ERR_CSR_INVALID: { status: 400, retry: 'no' },
  ERR_CSR_SIGNATURE: { status: 400, retry: 'no' },
  ERR_CERTIFICATE_INVALID: { status: 500, retry: 'no' },
  ERR_ATTESTATION_MALFORMED: { status: 400, retry: 'no' },
  ERR_ATTESTATION_CHAIN: { status: 400, retry: 'no' },
  ERR_ATTESTATION_KEY_MISMATCH: { status: 400, retry: 'no' },
  ERR_ATTESTATION_CHALLENGE: { status: 400, retry: 'no' },
  ERR_ATTESTATION_AUTHENTICATOR: { status: 400, retry: 'no' },
  ERR_AUTHN_MISSING: { status: 401, retry: 'no' },
  ERR_AUTHN_MALFORMED: { status: 401, retry: 'no' },
  ERR_AUTHN_SIGNATURE: { status: 401, retry: 'no' },
  ERR_AUTHN_EXPIRED: { status: 401, retry: 'no' },
  ERR_AUTHN_NOT_YET_VALID: { status: 401, retry: 'no' },
  ERR_AUTHN_ISSUER: { status: 401, retry: 'no' },
  ERR_AUTHN_AUDIENCE: { status: 401, retry: 'no' },
  ERR_AUTHN_CLAIMS: { status: 401, retry: 'no' },
  ERR_AUTHN_UNAVAILABLE: { status: 503, retry: 'later' },
  ERR_AUTHN_GATEWAY_NOT_ALLOWED: { status: 401, retry: 'no' },
  ERR_AUTHN_CHALLENGE: { status: 401, retry: 'no' },
  ERR_AUTHN_LOCAL_USER: { status: 401, retry: 'no' },
  ERR_POLICY_INVALID: { status: 500, retry: 'no' },
  ERR_POLICY_DENIED: { status: 403, retry: 'no' },
  ERR_REQUEST_INVALID: { status: 400, retry: 'no' },
  ERR_HOST_REPORT_INVALID: { status: 400, retry: 'no' },
  ERR_REQUEST_NOT_FOUND: { status: 404, retry: 'no' },
  ERR_ROUTE_NOT_FOUND: { status: 404, retry: 'no' },
  ERR_CERTIFICATE_NOT_FOUND: { status: 404, retry: 'no' },
  ERR_REQUEST_NOT_PENDING: { status: 409, retry: 'no' },
  ERR_REQUEST_CHANGED: { status: 409, retry: 'no' },
  ERR_APPROVAL_REFUSED: { status: 403, retry: 'no' },
  ERR_FORBIDDEN: { status: 403, retry: 'no' },
  ERR_RATE_LIMITED: { status: 429, retry: 'later' },
  ERR_REQUEST_TIMEOUT: { status: 408, retry: 'no' },
  ERR_TTL_INVALID: { status: 400, retry: 'no' },
  ERR_CHALLENGE_INVALID: { status: 400, retry: 'no' },
  ERR_KEY_POSSESSION_MISSING: { status: 400, retry: 'no' },
  ERR_KEY_POSSESSION_INVALID: { status: 400, retry: 'no' },
  ERR_ATTESTATION_UNSUPPORTED: { status: 400, retry: 'no' },
  ERR_KEY_ALREADY_ENROLLED: { status: 409, retry: 'no' },
  ERR_KEY_ENROLLED_ELSEWHERE: { status: 409, retry: 'no' },
  ERR_ENROLLED_KEY_NOT_FOUND: { status: 404, retry: 'no' },
  ERR_LOCAL_USER_CONFLICT: { status: 409, retry: 'no' },
  ERR_LOCAL_USER_NOT_FOUND: { status: 404, retry: 'no' },
  ERR_HSM_UNAVAILABLE: { status: 503, retry: 'later' },
  ERR_HSM_KEY_NOT_FOUND: { status: 503, retry: 'after-fix' },
  ERR_HSM_FAILURE: { status: 503, retry: 'after-fix' },
  ERR_HSM_PIN: { status: 503, retry: 'after-fix' },
  ERR_HSM_KEY_EXISTS: { status: 503, retry: 'after-fix' },
  ERR_STORE_UNAVAILABLE: { status: 503, retry: 'later' },
  // A duplicate serial is retried by the issuing code with a new serial, not by the caller.
  ERR_STORE_CONFLICT: { status: 409, retry: 'no' },
  ERR_STORE_FAILURE: { status: 503, retry: 'after-fix' },
  ERR_AUDIT_CHAIN_BROKEN: { status: 500, retry: 'no' },
  ERR_AUDIT_ARCHIVE_INVALID: { status: 409, retry: 'no' },
  ERR_AUDIT_TRUNCATE_REFUSED: { status: 409, retry: 'no' },
  ERR_SERVER_UNREACHABLE: { status: 500, retry: 'later' },
  ERR_SERVER_TLS: { status: 500, retry: 'no' },
  ERR_SERVER_REFUSED: { status: 500, retry: 'no' },
  ERR_TRUST_BUNDLE_UNTRUSTED: { status: 500, retry: 'no' },
  ERR_LOGIN_REQUIRED: { status: 500, retry: 'no' },
  ERR_KUBE_UNAVAILABLE: { status: 500, retry: 'later' },
  ERR_KUBE_CONFLICT: { status: 500, retry: 'later' },
  ERR_KUBE_REQUEST_FAILED: { status: 500, retry: 'after-fix' },
  ERR_ROTATION_LOCKED: { status: 409, retry: 'later' },
  ERR_LEADER_FENCED: { status: 409, retry: 'no' },
  ERR_ROTATION_REFUSED: { status: 409, retry: 'no' },
  ERR_CONFIG_INVALID: { status: 500, retry: 'after-fix' },
  ERR_GATEWAY_REFUSED: { status: 403, retry: 'no' },
};

export interface JitcaErrorOptions {
  /**
   * True when the same request may succeed later (HSM or database came back). Defaults to the
   * code's row in errorClasses (`later`); give it only where this failure knows better.
   */
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
    this.retryable = options.retryable ?? errorClasses[code].retry === 'later';
    this.details = options.details;
  }
}

export function isJitcaError(value: unknown, code?: ErrorCode): value is JitcaError {
  return value instanceof JitcaError && (code === undefined || value.code === code);
}
