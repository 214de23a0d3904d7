import { ErrorCodes, JitcaError, type ErrorCode } from '../errors.ts';
import type { JsonResponse } from './http-json.ts';
import { terminalSafe } from './terminal-text.ts';

const SERVER_CODE = /^ERR_[A-Z0-9_]{1,60}$/;

/**
 * A jitca refusal ({code, message, details}) as the error the helper reports: the server's stable
 * code survives to the engineer's terminal and the exit status. Code and message reach that
 * terminal, so a code must look like one (else ERR_SERVER_REFUSED) and the message is escaped.
 * `message` replaces the server's when the caller knows better what the answer means.
 */
export function serverRefusal(response: JsonResponse, override?: { code: ErrorCode; message: string }): JitcaError {
  const offered = response.body['code'];
  const code = override?.code ?? (typeof offered === 'string' && SERVER_CODE.test(offered) ? (offered as ErrorCode) : ErrorCodes.SERVER_REFUSED);
  const message =
    override?.message ?? (typeof response.body['message'] === 'string' ? terminalSafe(response.body['message']) : `HTTP ${response.status}`);
  const details = typeof response.body['details'] === 'object' && response.body['details'] !== null ? (response.body['details'] as Record<string, unknown>) : undefined;
  return new JitcaError(code, message, { details, retryable: response.status === 503 });
}
