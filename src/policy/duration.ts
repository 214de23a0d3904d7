/**
 * Certificate lifetimes as people write them ("30m", "1h30m") and as messages show them. Strict on
 * purpose: a TTL typo must fail loudly rather than grant a different lifetime than the one asked for.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * Largest duration accepted, seconds (~68 years). Keeps seconds * 1000 far inside
 * Number.MAX_SAFE_INTEGER so later millisecond arithmetic on a Clock cannot lose precision.
 */
export const MAX_DURATION_SECONDS = 2 ** 31 - 1;

const MAX_DURATION_TEXT = 32;
/** Units in descending order, each at most once, no leading zeros: "1h30m", "90s", "2h15s". */
const UNIT_FORM = /^(?:(0|[1-9][0-9]*)h)?(?:(0|[1-9][0-9]*)m)?(?:(0|[1-9][0-9]*)s)?$/;
const PLAIN_SECONDS = /^[1-9][0-9]*$/;

export function parseDuration(text: string): number {
  if (typeof text !== 'string') throw invalid('duration must be a string like "30m", "1h30m" or "90"');
  if (text.length === 0 || text.length > MAX_DURATION_TEXT) {
    throw invalid(`duration must be 1..${MAX_DURATION_TEXT} characters, like "30m", "1h30m" or "90"`);
  }
  let seconds: number;
  if (PLAIN_SECONDS.test(text)) {
    seconds = Number(text);
  } else {
    const match = UNIT_FORM.exec(text);
    if (match === null || (match[1] === undefined && match[2] === undefined && match[3] === undefined)) {
      throw invalid(
        `duration "${printable(text)}" is not valid; use whole seconds ("90") or h/m/s units in that order ("1h30m", "90s")`,
      );
    }
    seconds = Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
  }
  if (!Number.isSafeInteger(seconds) || seconds > MAX_DURATION_SECONDS) {
    throw invalid(`duration "${printable(text)}" exceeds the maximum of ${MAX_DURATION_SECONDS} seconds`);
  }
  if (seconds <= 0) throw invalid(`duration "${printable(text)}" must be longer than zero`);
  return seconds;
}

/** 1800 -> "30m", 5400 -> "1h30m", 90 -> "1m30s", 0 -> "0s"; parseDuration(formatDuration(n)) === n. */
export function formatDuration(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw invalid(`duration must be a non-negative whole number of seconds, got ${String(seconds)}`);
  }
  if (seconds === 0) return '0s';
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  return `${hours > 0 ? `${hours}h` : ''}${minutes > 0 ? `${minutes}m` : ''}${rest > 0 ? `${rest}s` : ''}`;
}

function invalid(message: string): JitcaError {
  return new JitcaError(ErrorCodes.TTL_INVALID, message);
}

/** Echo user input without letting control characters into messages and logs. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/gu, '?');
}
