/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers and strings as
 * JSON.stringify writes them. For the values jitca stores (plain objects, arrays, strings, finite
 * numbers, booleans, null) this is the RFC 8785 (JCS) serialisation, so a hash over it can be
 * recomputed by any JCS implementation, not only this one.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';

const MAX_DEPTH = 64;

export function canonicalJson(value: unknown): string {
  return serialise(value, '$', 0);
}

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
        return `[${value.map((item, i) => serialise(item, `${path}[${i}]`, depth + 1)).join(',')}]`;
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

/**
 * The object exactly as it will read back from the database: validated, with undefined members
 * dropped. Hashing the normalised value keeps write-time and verify-time hashes equal.
 */
export function normaliseJsonObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `${field} must be a JSON object`, { details: { field } });
  }
  let text: string;
  try {
    text = serialise(value, field, 0);
  } catch (error) {
    if (error instanceof JitcaError) throw error;
    throw notJson(field, 'not serialisable');
  }
  return JSON.parse(text) as Record<string, unknown>;
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
