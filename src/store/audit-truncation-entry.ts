/**
 * Checks an audit truncation before it is queued (as entry-validation.ts does for the other
 * entries), so a malformed one is ERR_REQUEST_INVALID alone and never reaches a shared transaction.
 */
import { invalid, prepareEvent, text } from './entry-validation.ts';
import type { PreparedEntry } from './entry-validation.ts';
import type { AuditTruncationEntry } from './types.ts';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function prepareAuditTruncationEntry(entry: AuditTruncationEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null) throw invalid('entry', 'must be an object');
  if (!Number.isSafeInteger(entry.previousSeq) || entry.previousSeq < 0) throw invalid('previousSeq', 'must be a non-negative integer');
  if (!Number.isSafeInteger(entry.throughSeq) || entry.throughSeq <= entry.previousSeq) {
    throw invalid('throughSeq', 'must be an integer after previousSeq: a truncation removes at least one record');
  }
  for (const field of ['throughHash', 'archiveSha256'] as const) {
    if (typeof entry[field] !== 'string' || !SHA256_HEX.test(entry[field])) throw invalid(field, 'must be 64 lowercase hex digits');
  }
  const event = prepareEvent(entry.event);
  if (event.type !== 'audit.truncated') throw invalid('event.type', 'must be audit.truncated');
  return {
    auditTruncation: {
      previousSeq: entry.previousSeq,
      throughSeq: entry.throughSeq,
      throughHash: entry.throughHash,
      archiveSha256: entry.archiveSha256,
      archiveFile: text(entry.archiveFile, 'archiveFile'),
    },
    event,
  };
}
