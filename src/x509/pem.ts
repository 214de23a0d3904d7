/**
 * PEM (RFC 7468) in its strict form (§3 "stricttextualmsg"): exactly one block, nothing but
 * whitespace around it, base64 lines of standard characters with correct padding. Lax parsers that
 * skip text or stop at the first block let two readers see two different objects in one input.
 */

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

/** Why a text is not one strict PEM block; the caller turns it into its own JitcaError. */
export class PemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PemError';
  }
}

const BLOCK = /^-----BEGIN ([A-Z0-9]+(?: [A-Z0-9]+)*)-----\r?\n([A-Za-z0-9+/=\r\n]*?)\r?\n?-----END ([A-Z0-9]+(?: [A-Z0-9]+)*)-----$/;

export function decodePem(text: string): PemBlock {
  const trimmed = text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  const match = BLOCK.exec(trimmed);
  if (match === null) {
    throw new PemError('input is not exactly one PEM block (-----BEGIN <label>-----, base64 lines, -----END <label>-----)');
  }
  const [, label = '', body = '', endLabel = ''] = match;
  if (label !== endLabel) throw new PemError(`PEM block begins with "${label}" but ends with "${endLabel}"`);
  const base64 = body.replace(/\r?\n/g, '');
  // RFC 4648 §4 base64 with padding only at the end: Buffer.from would skip bad characters.
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(base64)) {
    throw new PemError('PEM body is not valid base64');
  }
  const der = Uint8Array.from(Buffer.from(base64, 'base64'));
  // Non-zero bits in the last character's padding would give one DER several PEM spellings.
  if (Buffer.from(der).toString('base64') !== base64) throw new PemError('PEM body is not canonical base64');
  return { label, der };
}

/** PEM with 64-character lines (RFC 7468 §2), ending in a newline. */
export function encodePem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
