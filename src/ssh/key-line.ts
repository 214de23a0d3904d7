import { ErrorCodes, JitcaError } from '../errors.ts';
import { decodeBase64Strict } from './base64.ts';

export interface KeyLine {
  type: string;
  blob: Uint8Array;
  comment?: string;
}

/**
 * Splits one "type base64 [comment]" line (the .pub / -cert.pub / authorized_keys key format,
 * sshd(8) AUTHORIZED_KEYS FILE FORMAT) without options. `checkType` runs on the type token before
 * the base64 is decoded, so an unsupported type is reported as such rather than as bad base64.
 */
export function splitKeyLine(input: string, checkType: (type: string) => void): KeyLine {
  const line = input.trim();
  if (/[\r\n\0]/.test(line)) {
    throw new JitcaError(ErrorCodes.KEY_MALFORMED, 'key input must be exactly one line');
  }
  const match = /^(\S+)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (match === null) {
    throw new JitcaError(ErrorCodes.KEY_MALFORMED, 'key line must be "type base64 [comment]"');
  }
  const [, type = '', base64 = '', comment] = match;
  if (/[=",]/.test(type)) {
    throw new JitcaError(
      ErrorCodes.KEY_MALFORMED,
      'authorized_keys options before the key type are not accepted; send "type base64 [comment]"',
    );
  }
  checkType(type);
  const blob = decodeBase64Strict(base64);
  if (blob === undefined) {
    throw new JitcaError(ErrorCodes.KEY_MALFORMED, 'key base64 is not valid (canonical, padded RFC 4648)');
  }
  const trimmed = comment?.trim();
  return trimmed === undefined || trimmed === '' ? { type, blob } : { type, blob, comment: trimmed };
}
