import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * A request id goes into URL paths and terminal lines: only a plain token is used, whether it came
 * from the server or from the command line (a "../" or a control character is neither a path step
 * nor terminal output to send on).
 */
export const PLAIN_REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function plainRequestId(id: string, from: string): string {
  if (!PLAIN_REQUEST_ID.test(id)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `${from} is not a request id (letters, digits, _ and -, such as req_3f2a…)`);
  }
  return id;
}
