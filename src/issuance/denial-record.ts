import { createHash } from 'node:crypto';
import { canonicalJson } from '../store/canonical-json.ts';
import type { AuditEventInput } from '../store/types.ts';

/**
 * Longest field a denial keeps as sent, in bytes of its canonical JSON. A real request's fields fit
 * (a role, a few principals, a short reason); a longer one is what the caller made long, and keeping
 * it whole let anyone with a token write tens of kilobytes of audit log per refused request.
 */
export const MAX_KEPT_FIELD_BYTES = 256;
/**
 * Longest refusal message kept, in bytes of its JSON text. Messages are jitca's own text, but they
 * quote the request (64 characters a value, and a CSR can carry hundreds of O values) and lists
 * from the policy or the token.
 */
export const MAX_KEPT_MESSAGE_BYTES = 512;

/** What replaces an oversized field: enough to recognise the value again, not the value. */
export interface OmittedField {
  sha256: string;
  bytes: number;
}

/**
 * What a denial records of the request it refused, for the audit record and the request row. The
 * decision is kept: `rule` whole, `message` up to MAX_KEPT_MESSAGE_BYTES (cut with "…"). Every
 * other field is kept as sent while its canonical JSON is at most MAX_KEPT_FIELD_BYTES, and
 * otherwise replaced by the SHA-256 of that canonical JSON and its length in bytes, so whoever
 * holds the request can show it was this one. A record's size then depends on how many fields it
 * has, not on what the caller sent.
 */
export function boundedForDenial(fields: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const bounded: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (name === 'rule') bounded[name] = value;
    else if (name === 'message' && typeof value === 'string') bounded[name] = cut(value, MAX_KEPT_MESSAGE_BYTES);
    else bounded[name] = boundedValue(value);
  }
  return bounded;
}

function boundedValue(value: unknown): unknown {
  const json = canonicalJson(value);
  const bytes = Buffer.byteLength(json);
  if (bytes <= MAX_KEPT_FIELD_BYTES) return value;
  const omitted: OmittedField = { sha256: createHash('sha256').update(json).digest('hex'), bytes };
  return omitted;
}

/**
 * The longest prefix of whole characters whose JSON text (escapes counted, quotes not) stays within
 * maxBytes once "…" is added: the bound holds for the message as stored, not only as a string.
 */
function cut(text: string, maxBytes: number): string {
  const jsonBytes = (value: string): number => Buffer.byteLength(JSON.stringify(value)) - 2;
  if (jsonBytes(text) <= maxBytes) return text;
  const budget = maxBytes - jsonBytes('…');
  let kept = '';
  let bytes = 0;
  for (const character of text) {
    bytes += jsonBytes(character);
    if (bytes > budget) break;
    kept += character;
  }
  return `${kept}…`;
}

/** A denial's audit record, its data bounded as above (the actor, subject and request id are kept). */
export function boundedDenialEvent(event: AuditEventInput): AuditEventInput {
  return { ...event, data: boundedForDenial(event.data) };
}
