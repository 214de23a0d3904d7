/**
 * Strict base64 (RFC 4648 §4, padded) as OpenSSH writes it in .pub and -cert.pub files. Node's
 * decoder silently skips junk and accepts missing padding; we only accept the canonical form so
 * that one blob has exactly one text spelling.
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64_TEXT.test(text)) return undefined;
  // RFC 4648 §3.5: the last character before the padding may carry bits that encode nothing; a
  // canonical encoding has them zero (otherwise several texts would decode to the same bytes).
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (padding > 0) {
    const unused = padding === 2 ? 0b1111 : 0b11;
    if ((BASE64_VALUE[text.charCodeAt(text.length - padding - 1)]! & unused) !== 0) return undefined;
  }
  const bytes = Buffer.from(text, 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

const BASE64_TEXT = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** The 6-bit value of each alphabet character, by char code. */
const BASE64_VALUE = new Uint8Array(128);
for (let value = 0; value < BASE64_ALPHABET.length; value++) BASE64_VALUE[BASE64_ALPHABET.charCodeAt(value)] = value;
