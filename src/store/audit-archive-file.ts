/**
 * Reading an audit archive (the JSON Lines `audit export` writes) record by record while hashing
 * its bytes, so the SHA-256 the log recorded and the chain inside are checked in one pass over a
 * file that may be larger than memory.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseAuditExportLine } from './audit-export.ts';
import type { AuditRecord } from './types.ts';

export interface AuditArchiveRead {
  /** SHA-256 of the whole file; undefined when reading stopped early (onRecord returned false). */
  sha256?: string;
  records: number;
  first?: AuditRecord;
  last?: AuditRecord;
}

const NEWLINE = 0x0a;

/**
 * Calls onRecord with each record in file order; returning false stops the reading. A line that
 * is not a record is ERR_REQUEST_INVALID naming the file and the line; a file that cannot be
 * opened is ERR_REQUEST_INVALID too (the caller named it).
 */
export async function readAuditArchive(file: string, onRecord: (record: AuditRecord) => boolean): Promise<AuditArchiveRead> {
  const digest = createHash('sha256');
  const read: AuditArchiveRead = { records: 0 };
  let pending: Buffer[] = [];
  let lineNumber = 0;
  const take = (line: Buffer): boolean => {
    lineNumber += 1;
    let record: AuditRecord;
    try {
      record = parseAuditExportLine(line.toString('utf8'), lineNumber);
    } catch (error) {
      throw new JitcaError(ErrorCodes.REQUEST_INVALID, `${file}: ${(error as Error).message}`, { details: { line: lineNumber }, cause: error });
    }
    read.first ??= record;
    read.last = record;
    read.records += 1;
    return onRecord(record);
  };
  const input = createReadStream(file);
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      digest.update(chunk);
      let start = 0;
      for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
        const line = pending.length === 0 ? chunk.subarray(start, end) : Buffer.concat([...pending, chunk.subarray(start, end)]);
        pending = [];
        start = end + 1;
        if (!take(line)) return read;
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    }
    // export writes a newline after every record: anything after the last one is not a record.
    if (pending.length > 0 && !take(Buffer.concat(pending))) return read;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === undefined || error instanceof JitcaError) throw error;
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `cannot read audit archive ${file}: ${(error as NodeJS.ErrnoException).code}`, { cause: error });
  } finally {
    input.destroy();
  }
  read.sha256 = digest.digest('hex');
  return read;
}
