/**
 * Strict base64 (RFC 4648 §4, padded) as OpenSSH writes it in .pub and -cert.pub files. Node's
 * decoder silently skips junk and accepts missing padding; we only accept the canonical form so
 * that one blob has exactly one text spelling.
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Re-encoding catches non-zero bits in the last character's unused low bits.
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
