/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers and strings as
 * JSON.stringify writes them. For the values jitca stores (plain objects, arrays, strings, finite
 * numbers, booleans, null) this is the RFC 8785 (JCS) serialisation, so a hash over it can be
 * recomputed by any JCS implementation, not only this one.
 *
 * Serialising is on the hot path of every store write, so it runs in two passes: a fast one that
 * tracks no path and gives up (returns undefined) at the first value it cannot store, and, only
 * then, the path-tracking one that builds the error naming where the bad value sits. Both write
 * the same text for every value the fast one accepts.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';

const MAX_DEPTH = 64;

export function canonicalJson(value: unknown): string {
  return fastSerialise(value, 0) ?? serialise(value, '$', 0);
}

/** The canonical text, or undefined when something in value cannot be stored. */
function fastSerialise(value: unknown, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item = fastSerialise(value[i], depth + 1);
          if (item === undefined) return undefined;
          out += i === 0 ? item : `,${item}`;
        }
        return `${out}]`;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const record = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, as JCS requires (RFC 8785 §3.2.3).
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const member = record[key];
        // Left out, as JSON.stringify does.
        if (member === undefined) continue;
        const text = fastSerialise(member, depth + 1);
        if (text === undefined) return undefined;
        out += `${first ? '' : ','}${JSON.stringify(key)}:${text}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

/** The slow pass: same text, but throws naming the path of the first value it cannot store. */
function serialise(value: unknown, path: string, depth: number): string {
  if (depth > MAX_DEPTH) throw notJson(path, `nesting deeper than ${MAX_DEPTH}`);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw notJson(path, 'a non-finite number');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        // An index loop, not map(): map skips the holes of a sparse array, which would write `[1,,2]`.
        const items: string[] = [];
        for (let i = 0; i < value.length; i++) items.push(serialise(value[i], `${path}[${i}]`, depth + 1));
        return `[${items.join(',')}]`;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw notJson(path, 'an object that is not a plain object');
      const record = value as Record<string, unknown>;
      // Keys whose value is undefined are left out, as JSON.stringify does.
      const keys = Object.keys(record)
        .filter((key) => record[key] !== undefined)
        .sort();
      const members = keys.map((key) => `${JSON.stringify(key)}:${serialise(record[key], `${path}.${key}`, depth + 1)}`);
      return `{${members.join(',')}}`;
    }
    default:
      throw notJson(path, `a ${typeof value}`);
  }
}

function notJson(path: string, what: string): JitcaError {
  return new JitcaError(
    ErrorCodes.REQUEST_INVALID,
    `${path} is ${what}; only null, booleans, finite numbers, strings, arrays and plain objects can be stored`,
    { details: { path } },
  );
}

/** A JSON object as it will be stored: its canonical text and the value that text reads back as. */
export interface CanonicalObject {
  readonly value: Record<string, unknown>;
  /** canonicalJson(value), kept so the store writes and hashes it without serialising again. */
  readonly text: string;
}

/**
 * The object exactly as it will read back from the database: validated, with undefined members
 * dropped. Hashing the normalised value keeps write-time and verify-time hashes equal.
 */
export function normaliseJsonObject(value: unknown, field: string): Record<string, unknown> {
  return canonicaliseJsonObject(value, field).value;
}

/**
 * Validates value as a JSON object and returns its canonical text with the normalised value.
 * canonicalJson(JSON.parse(text)) === text: parsing canonical text gives back the same keys (sorted
 * again on output), strings and shortest round-trip numbers, so the text can stand for the value.
 */
export function canonicaliseJsonObject(value: unknown, field: string): CanonicalObject {
  const text = canonicalObjectText(value, field);
  return { value: JSON.parse(text) as Record<string, unknown>, text };
}

/** Validates value as a JSON object and returns only its canonical text (nothing reads the value back). */
export function canonicalObjectText(value: unknown, field: string): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `${field} must be a JSON object`, { details: { field } });
  }
  try {
    return fastSerialise(value, 0) ?? serialise(value, field, 0);
  } catch (error) {
    if (error instanceof JitcaError) throw error;
    throw notJson(field, 'not serialisable');
  }
}

/**
 * Parses a JSON object column. Text that is not a JSON object (only possible if someone edited
 * the database by hand) is returned as {"$unparseable": text} so listing and verifying a tampered
 * log still work: the record then fails its hash check instead of crashing the reader.
 */
export function parseStoredJsonObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  return { $unparseable: text };
}
