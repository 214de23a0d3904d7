import { ErrorCodes, JitcaError } from '../errors.ts';
import { findDuplicateKey } from '../policy/json-duplicates.ts';

/**
 * Checks on a bearer token's text that run before jose sees it: before any key is fetched, any
 * signature checked or any claim read. Pure (no I/O, no clock) and total: any input either passes
 * or throws a JitcaError, which is what bench/fuzz.ts holds it to.
 */

export interface JwtPrecheckLimits {
  maxTokenBytes: number;
}

/**
 * RFC 7515 §7.1 compact serialization: three base64url (RFC 4648 §5, unpadded) segments. A JWE
 * (five segments) or anything with padding, spaces or other characters is refused before parsing.
 * The signature may be empty so that `alg: none` reaches jose's algorithm allowlist and is reported
 * as an algorithm refusal rather than a formatting one.
 */
const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function malformed(message: string, details: Record<string, unknown> = {}): JitcaError {
  return new JitcaError(ErrorCodes.AUTHN_MALFORMED, message, { details });
}

/**
 * One segment's JSON object, read exactly once. JSON.parse keeps the last of two equal member
 * names (ECMA-262 §25.5.1) and RFC 7515 §4 / RFC 7519 §4 let a JWS either refuse or keep the
 * last: a token naming `sub` twice would be logged, audited or judged by a proxy as one subject
 * and certified as the other. jitca refuses it, at any depth, as it refuses request bodies that do.
 */
function decodeSegment(segment: string, name: 'header' | 'payload'): Record<string, unknown> {
  const bytes = Buffer.from(segment, 'base64url');
  // Buffer's decoder skips stray bits and a dangling character; a segment that does not re-encode
  // to itself has more than one spelling, and jose might read it differently from this check.
  if (bytes.toString('base64url') !== segment) throw malformed(`the token's ${name} is not canonical base64url`, { reason: 'encoding', segment: name });
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw malformed(`the token's ${name} is not UTF-8`, { reason: 'encoding', segment: name });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed(`the token's ${name} is not JSON`, { reason: 'json', segment: name });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`the token's ${name} is not a JSON object`, { reason: 'json', segment: name });
  }
  // The member name is the caller's text: it is not echoed.
  if (findDuplicateKey(text) !== undefined) {
    throw malformed(`the token's ${name} names a member more than once`, { reason: 'duplicate_member', segment: name });
  }
  return value as Record<string, unknown>;
}

/**
 * Size, shape, encoding and member uniqueness of a compact JWS; returns the decoded header and
 * payload (for checks that need them; jose decodes the token again from the same text).
 */
export function precheckCompactJwt(token: unknown, limits: JwtPrecheckLimits): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  if (typeof token !== 'string' || token.length === 0) {
    throw new JitcaError(ErrorCodes.AUTHN_MISSING, 'no bearer token was presented');
  }
  if (token.length > limits.maxTokenBytes) {
    throw malformed(`the token is longer than ${limits.maxTokenBytes} bytes`, { maxTokenBytes: limits.maxTokenBytes });
  }
  const match = COMPACT_JWS.exec(token);
  if (match === null) throw malformed('the token is not a compact signed JWT (three base64url segments)');
  const header = decodeSegment(match[1] as string, 'header');
  const payload = decodeSegment(match[2] as string, 'payload');
  // The signature too: a spare bit set in its last character decodes to the same signature, so a
  // signed token would have several spellings that all verify (found by bench/fuzz.ts).
  const signature = match[3] as string;
  if (Buffer.from(signature, 'base64url').toString('base64url') !== signature) {
    throw malformed('the token\'s signature is not canonical base64url', { reason: 'encoding', segment: 'signature' });
  }
  return { header, payload };
}

/**
 * RFC 7515 §4.1.9: `typ` is a media type, compared case-insensitively, and "application/" may be
 * left out. The one spelling jitca compares: lower case, without that prefix.
 */
export function normalizeTyp(value: string): string {
  const lower = value.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/**
 * A present `typ` must be one jitca accepts (by default JWT and RFC 9068 `at+jwt`), so a token
 * minted for another purpose by the same issuer and keys (a logout token, a DPoP proof, a
 * `secevent+jwt`, RFC 8725 §3.11) is not taken as a bearer token. An absent `typ` is accepted:
 * RFC 7519 §5.1 makes it optional and many IdPs leave it out of ID tokens.
 * `accepted` holds normalized values (normalizeTyp).
 */
export function checkTypHeader(header: Record<string, unknown>, accepted: ReadonlySet<string>): void {
  const typ = header['typ'];
  if (typ === undefined) return;
  if (typeof typ !== 'string' || !accepted.has(normalizeTyp(typ))) {
    throw new JitcaError(ErrorCodes.AUTHN_CLAIMS, 'the token\'s "typ" header names a token type jitca does not accept as a bearer token', {
      details: { reason: 'typ' },
    });
  }
}
