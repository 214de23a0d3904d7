import { canonicalJson, parseStoredJsonObject } from './canonical-json.ts';
import { GENESIS_PREV_HASH } from './audit-chain.ts';
import type { AuditLogTable, StoreDb } from './schema.ts';
import type { AuditEventType, AuditRecord } from './types.ts';

export interface AuditHead {
  /** seq of the newest record, 0 when the log is empty. */
  seq: number;
  /** hash of the newest record, GENESIS_PREV_HASH when the log is empty. */
  hash: string;
}

/** Must run inside the writing transaction so the next seq/prevHash cannot race another writer. */
export async function readAuditHead(db: StoreDb): Promise<AuditHead> {
  const row = await db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row === undefined ? { seq: 0, hash: GENESIS_PREV_HASH } : { seq: Number(row.seq), hash: row.hash };
}

export async function insertAuditRecord(db: StoreDb, record: AuditRecord): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      seq: record.seq,
      at: record.at,
      type: record.type,
      actor: record.actor,
      subject: record.subject ?? null,
      request_id: record.requestId ?? null,
      data: canonicalJson(record.data),
      prev_hash: record.prevHash,
      hash: record.hash,
    })
    .execute();
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
