/**
 * The cursor of GET /v1/requests: the position of the last request of a page (its createdAt and
 * id, which never change), base64url-encoded. Opaque to clients and stable (the same position is
 * always the same text). It carries no authority: the next page is filtered by the caller's own
 * scope again, so a made-up position shows nothing a real one would not; anything that does not
 * decode to a well-formed position is refused.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { RequestListPosition } from '../store/types.ts';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const REQUEST_ID = /^req_[0-9a-f]{32}$/;
const BASE64URL = /^[A-Za-z0-9_-]{1,200}$/;

export function encodeRequestCursor(position: RequestListPosition): string {
  return Buffer.from(`${position.createdAt} ${position.id}`, 'utf8').toString('base64url');
}

export function decodeRequestCursor(cursor: string): RequestListPosition {
  const text = BASE64URL.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const [createdAt = '', id = '', ...rest] = text.split(' ');
  // Re-encoding must give the cursor back: no padding variants, no trailing bits, one spelling per position.
  const wellFormed =
    rest.length === 0 && ISO_UTC.test(createdAt) && !Number.isNaN(Date.parse(createdAt)) && REQUEST_ID.test(id) && encodeRequestCursor({ createdAt, id }) === cursor;
  if (!wellFormed) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'cursor is not one this API returned; start again without it', { details: { path: '/cursor' } });
  }
  return { createdAt, id };
}
