/**
 * Watch events carry objects as plain JSON, while client-node's typed calls return models whose
 * timestamps are Date objects (and serialize them back with toISOString when we PUT). This turns a
 * watched CertificateSigningRequest into the model shape, so the cache holds one representation
 * and any cached object can be sent back in a PUT.
 */
import type { V1CertificateSigningRequest } from '@kubernetes/client-node';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function toDate(value: unknown): Date | undefined {
  if (typeof value !== 'string') return value instanceof Date ? value : undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

function withDates(object: Json, keys: readonly string[]): Json {
  const out: Json = { ...object };
  for (const key of keys) {
    if (!(key in out)) continue;
    const date = toDate(out[key]);
    if (date === undefined) delete out[key];
    else out[key] = date;
  }
  return out;
}

/** A watched object in model shape, or undefined when it is not a CSR-shaped object at all. */
export function csrFromWire(raw: unknown): V1CertificateSigningRequest | undefined {
  if (!isObject(raw) || !isObject(raw['metadata']) || !isObject(raw['spec'])) return undefined;
  const metadata = withDates(raw['metadata'], ['creationTimestamp', 'deletionTimestamp']);
  if (Array.isArray(metadata['managedFields'])) {
    metadata['managedFields'] = metadata['managedFields'].map((entry: unknown) => (isObject(entry) ? withDates(entry, ['time']) : entry));
  }
  const out: Json = { ...raw, metadata };
  if (isObject(raw['status'])) {
    const status: Json = { ...raw['status'] };
    if (Array.isArray(status['conditions'])) {
      status['conditions'] = status['conditions'].map((condition: unknown) =>
        isObject(condition) ? withDates(condition, ['lastUpdateTime', 'lastTransitionTime']) : condition,
      );
    }
    out['status'] = status;
  }
  return out as unknown as V1CertificateSigningRequest;
}
