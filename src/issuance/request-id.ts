import { randomUUID } from 'node:crypto';

/**
 * Request ids are opaque, unguessable and appear in key IDs, audit records and approval links.
 * Laid out like a UUIDv7 (RFC 9562 §5.7): the first 12 hex digits are the creation time in
 * milliseconds, the other 20 are random (74 bits: a v4 UUID's tail, its version and variant
 * nibbles included), so ids sort by creation. The store keys requests, and indexes certificates
 * and audit records, by this id: in creation order each insert lands on the rightmost leaf of
 * those B-trees instead of a random page of a store that no longer fits the page cache
 * (issue 21). Issuance passes its clock's time, the one it records as the request's createdAt.
 */
export function newRequestId(nowMs: number): string {
  return `req_${Math.trunc(nowMs).toString(16).padStart(12, '0').slice(-12)}${randomUUID().replaceAll('-', '').slice(12)}`;
}
