import { randomUUID } from 'node:crypto';

/** Request ids are opaque, unguessable and appear in key IDs, audit records and approval links. */
export function newRequestId(): string {
  return `req_${randomUUID().replaceAll('-', '')}`;
}
