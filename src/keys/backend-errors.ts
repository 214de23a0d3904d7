import { HsmErrorCodes, isHsmError, type HsmErrorCode } from '../../hsm/hsm-error.ts';
import { ErrorCodes, JitcaError, type ErrorCode } from '../errors.ts';

/**
 * Each backend error code and the jitca code it is reported as. A Record, so a code the backend
 * adds does not compile until someone decides what it means here. `retryable` is the backend's
 * own verdict (a vanished token is retryable, a refused PIN is not) and is carried over as is.
 */
const JITCA_CODE_OF: Readonly<Record<HsmErrorCode, ErrorCode>> = {
  [HsmErrorCodes.HSM_UNAVAILABLE]: ErrorCodes.HSM_UNAVAILABLE,
  [HsmErrorCodes.HSM_KEY_NOT_FOUND]: ErrorCodes.HSM_KEY_NOT_FOUND,
  [HsmErrorCodes.HSM_FAILURE]: ErrorCodes.HSM_FAILURE,
  [HsmErrorCodes.HSM_PIN]: ErrorCodes.HSM_PIN,
  [HsmErrorCodes.HSM_KEY_EXISTS]: ErrorCodes.HSM_KEY_EXISTS,
  [HsmErrorCodes.KEY_UNSUPPORTED]: ErrorCodes.KEY_UNSUPPORTED,
  [HsmErrorCodes.REQUEST_INVALID]: ErrorCodes.REQUEST_INVALID,
  [HsmErrorCodes.CONFIG_INVALID]: ErrorCodes.CONFIG_INVALID,
};

/** A backend's failure as the JitcaError callers of the key manager see; anything else unchanged. */
export function fromBackendError(error: unknown): unknown {
  if (!isHsmError(error)) return error;
  return new JitcaError(JITCA_CODE_OF[error.code], error.message, { retryable: error.retryable, details: error.details, cause: error });
}

/** Runs a backend call and reports its failure in jitca's codes. */
export function mapBackendErrors<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fromBackendError(error);
  }
}
