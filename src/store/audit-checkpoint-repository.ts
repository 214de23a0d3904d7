/**
 * The audit log's checkpoints (migration 0015) and the truncation behind one. The truncation runs
 * inside the write path's transaction, as one entry of a batch: its checks, the checkpoint row,
 * the delete and its audit record commit together or not at all, so a process killed at any
 * point leaves either the whole log or the truncated log with its checkpoint, never a part.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';
import { compileStatement } from './compiled-statement.ts';
import type { AuditCheckpointsTable, StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import type { AuditCheckpoint } from './types.ts';

/** A truncation as the write path carries it (entry-validation.ts checked its shape). */
export interface PreparedAuditTruncation {
  previousSeq: number;
  throughSeq: number;
  throughHash: string;
  archiveSha256: string;
  archiveFile: string;
}

export type AuditTruncationWrite = (executor: StatementExecutor, truncation: PreparedAuditTruncation, at: string) => Promise<void>;

function newestCheckpointQuery(db: StoreDb) {
  return db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'desc').limit(1);
}

/** PostgreSQL drivers may return bigint columns as strings; the chain compares numbers. */
function toCheckpoint(row: AuditCheckpointsTable): AuditCheckpoint {
  return { seq: Number(row.seq), hash: row.hash, archiveSha256: row.archive_sha256, archiveFile: row.archive_file, truncatedAt: row.truncated_at };
}

export async function readAuditCheckpoint(db: StoreDb): Promise<AuditCheckpoint | undefined> {
  const row = await newestCheckpointQuery(db).executeTakeFirst();
  return row === undefined ? undefined : toCheckpoint(row);
}

/** The truncation's statements, compiled once per store. */
export function compileAuditTruncation(db: StoreDb): AuditTruncationWrite {
  const newest = compileStatement<Record<never, never>>({}, () => newestCheckpointQuery(db));
  const recordHash = compileStatement<{ seq: number }>({ seq: true }, (row) => db.selectFrom('audit_log').select('hash').where('seq', '=', row.seq));
  const insert = compileStatement<AuditCheckpointsTable>(
    { seq: true, hash: true, archive_sha256: true, archive_file: true, truncated_at: true },
    (row) => db.insertInto('audit_checkpoints').values(row),
  );
  const remove = compileStatement<{ seq: number }>({ seq: true }, (row) => db.deleteFrom('audit_log').where('seq', '<=', row.seq));
  const conflict = (why: string): JitcaError =>
    new JitcaError(ErrorCodes.STORE_CONFLICT, `audit truncation refused: ${why}; nothing was removed`);

  return async (executor, truncation, at) => {
    // Read inside the transaction that deletes: a truncation or a rewrite committed since the
    // caller checked its archive is seen here, and this one then removes nothing.
    const [current] = await executor.rows<AuditCheckpointsTable>(newest.sql, newest.bind({}));
    const currentSeq = current === undefined ? 0 : Number(current.seq);
    if (currentSeq !== truncation.previousSeq) {
      throw conflict(`the log now starts after seq ${currentSeq}, not ${truncation.previousSeq} where the archive begins`);
    }
    const [record] = await executor.rows<{ hash: string }>(recordHash.sql, recordHash.bind({ seq: truncation.throughSeq }));
    if (record?.hash !== truncation.throughHash) {
      throw conflict(`record ${truncation.throughSeq} in the database is not the archive's last record`);
    }
    await executor.run(
      insert.sql,
      insert.bind({
        seq: truncation.throughSeq,
        hash: truncation.throughHash,
        archive_sha256: truncation.archiveSha256,
        archive_file: truncation.archiveFile,
        truncated_at: at,
      }),
    );
    await executor.run(remove.sql, remove.bind({ seq: truncation.throughSeq }));
  };
}
