import { GENESIS_PREV_HASH } from './audit-chain.ts';
import { parseStoredJsonObject } from './canonical-json.ts';
import { compileStatement } from './compiled-statement.ts';
import type { AuditLogTable, StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import type { AuditAnchor, AuditEventType, AuditRecord } from './types.ts';

export interface AuditHead {
  /** seq of the newest record, 0 when the log is empty. */
  seq: number;
  /** hash of the newest record, GENESIS_PREV_HASH when the log is empty. */
  hash: string;
}

const AUDIT_COLUMNS = {
  seq: true,
  at: true,
  type: true,
  actor: true,
  subject: true,
  request_id: true,
  data: true,
  prev_hash: true,
  hash: true,
} as const satisfies Record<keyof AuditLogTable, true>;

/** An audit record whose data is already canonical JSON text (as prepared for the write). */
export interface AuditRecordRow {
  record: AuditRecord;
  dataJson: string;
}

export interface AuditWrites {
  /** Must run inside the writing transaction so the next seq/prevHash cannot race another writer. */
  readHead(executor: StatementExecutor): Promise<AuditHead>;
  insert(executor: StatementExecutor, row: AuditRecordRow): void | Promise<void>;
}

/** The newest record's seq and hash: the one query behind readHead and readAuditHead. */
function newestRecordQuery(db: StoreDb) {
  return db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1);
}

/** PostgreSQL drivers may return integers as strings or bigint; the chain hashes a number. */
function anchorOf(row: Pick<AuditLogTable, 'seq' | 'hash'>): AuditAnchor {
  return { seq: Number(row.seq), hash: row.hash };
}

/** The audit log's write-path statements, compiled once per store. */
export function compileAuditWrites(db: StoreDb): AuditWrites {
  const head = compileStatement<Record<never, never>>({}, () => newestRecordQuery(db));
  const insert = compileStatement<AuditLogTable>(AUDIT_COLUMNS, (row) => db.insertInto('audit_log').values(row));
  return {
    async readHead(executor: StatementExecutor): Promise<AuditHead> {
      const [row] = await executor.rows<Pick<AuditLogTable, 'seq' | 'hash'>>(head.sql, head.bind({}));
      return row === undefined ? { seq: 0, hash: GENESIS_PREV_HASH } : anchorOf(row);
    },
    insert(executor: StatementExecutor, { record, dataJson }: AuditRecordRow): void | Promise<void> {
      return executor.run(
        insert.sql,
        insert.bind({
          seq: record.seq,
          at: record.at,
          type: record.type,
          actor: record.actor,
          subject: record.subject ?? null,
          request_id: record.requestId ?? null,
          data: dataJson,
          prev_hash: record.prevHash,
          hash: record.hash,
        }),
      );
    },
  };
}

/** The newest record's seq and hash, as committed (not a verification: see verifyAudit). */
export async function readAuditHead(db: StoreDb): Promise<AuditAnchor | undefined> {
  const row = await newestRecordQuery(db).executeTakeFirst();
  return row === undefined ? undefined : anchorOf(row);
}

export async function listAuditRecords(db: StoreDb, afterSeq: number, limit: number): Promise<AuditRecord[]> {
  const rows = await db
    .selectFrom('audit_log')
    .selectAll()
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map(toAuditRecord);
}

function toAuditRecord(row: AuditLogTable): AuditRecord {
  const record: AuditRecord = {
    // PostgreSQL drivers may return integers as strings or bigint; the chain hashes a number.
    seq: Number(row.seq),
    at: row.at,
    type: row.type as AuditEventType,
    actor: row.actor,
    data: parseStoredJsonObject(row.data),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
  if (row.subject !== null) record.subject = row.subject;
  if (row.request_id !== null) record.requestId = row.request_id;
  return record;
}
