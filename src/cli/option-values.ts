import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseDuration } from '../policy/duration.ts';

/**
 * Parsers for commander's option values. Commander runs them while it reads the command line,
 * before the action, so a bad value is refused before anything is created, opened or requested
 * (`serve --port abc` used to initialize the token and store, then fail with a raw NaN). They
 * throw JitcaErrors, which commander passes on: the CLI reports "jitca: CODE: message", exit 2.
 */

/** A TCP port, 0 (the system picks one) to 65535. */
export function portValue(option: string): (text: string) => number {
  return (text) => {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(text) || Number(text) > 65535) throw invalid(option, 'a port number, 0 to 65535', text);
    return Number(text);
  };
}

/** A whole number of seconds, 1 or more. */
export function secondsValue(option: string): (text: string) => number {
  return (text) => {
    if (!/^[1-9][0-9]{0,8}$/.test(text)) throw invalid(option, 'a whole number of seconds, 1 or more', text);
    return Number(text);
  };
}

/** A duration such as 30m (ERR_TTL_INVALID otherwise): checked here, passed on as written, since the server reads it the same way. */
export function durationValue(text: string): string {
  parseDuration(text);
  return text;
}

function invalid(option: string, what: string, text: string): JitcaError {
  return new JitcaError(ErrorCodes.REQUEST_INVALID, `${option} must be ${what}, not ${JSON.stringify(text.slice(0, 20))}`);
}
