/**
 * Writes one group-commit batch: one transaction, one SAVEPOINT per entry. An entry that fails
 * on its own (duplicate serial, duplicate approval, a bug) is rolled back to its savepoint and
 * rejected alone; the others commit together. A database fault aborts the whole transaction and
 * rejects every entry, so nothing is half-written. Audit seq and prevHash are assigned here, in
 * queue order, from the head read inside the same transaction, so the chain stays linear.
 */
import type { Clock } from '../clock.ts';
import { ErrorCodes, isJitcaError } from '../errors.ts';
import { insertApproval } from './approval-repository.ts';
import { auditRecordHash } from './audit-chain.ts';
import type { UnhashedAuditRecord } from './audit-chain.ts';
import { insertAuditRecord, readAuditHead } from './audit-repository.ts';
import type { AuditHead } from './audit-repository.ts';
import { insertCertificate } from './certificate-repository.ts';
import type { PreparedEntry } from './entry-validation.ts';
import type { BatchItem, BatchWriter } from './group-commit.ts';
import { upsertRequest } from './request-repository.ts';
import type { StoreDb } from './schema.ts';
import { classifyDatabaseError, storeUnavailable, toStoreError } from './store-errors.ts';
import type { AuditRecord, StoreStats } from './types.ts';

const SAVEPOINT = 'jitca_entry';

export function createBatchWriter(db: StoreDb, clock: Clock, stats: StoreStats): BatchWriter<PreparedEntry, AuditRecord> {
  return async (items: ReadonlyArray<BatchItem<PreparedEntry, AuditRecord>>): Promise<void> => {
    stats.largestBatch = Math.max(stats.largestBatch, items.length);
    const failBatch = (error: unknown): void => {
      const failure = isJitcaError(error, ErrorCodes.STORE_UNAVAILABLE)
        ? error
        : storeUnavailable(
            `database unavailable while committing a batch of ${items.length}; nothing of it was written, retry`,
            error,
          );
      for (const item of items) item.reject(failure);
    };

    let trx;
    try {
      trx = await db.startTransaction().execute();
    } catch (error) {
      failBatch(error);
      return;
    }

    const written: Array<{ item: BatchItem<PreparedEntry, AuditRecord>; record: AuditRecord }> = [];
    try {
      let head = await readAuditHead(trx);
      for (const item of items) {
        const entryTrx = await trx.savepoint(SAVEPOINT).execute();
        try {
          const record = await writeEntry(entryTrx, item.input, head, new Date(clock.now()).toISOString());
          await entryTrx.releaseSavepoint(SAVEPOINT).execute();
          head = { seq: record.seq, hash: record.hash };
          written.push({ item, record });
        } catch (error) {
          if (abortsBatch(error)) throw error;
          await entryTrx.rollbackToSavepoint(SAVEPOINT).execute();
          await entryTrx.releaseSavepoint(SAVEPOINT).execute();
          item.reject(toStoreError(error, 'recording the entry'));
        }
      }
      await trx.commit().execute();
    } catch (error) {
      // Rollback can fail too (the fault that got us here); the driver clears a leftover
      // transaction before the next BEGIN, so the store recovers once the fault clears.
      await trx.rollback().execute().catch(() => undefined);
      stats.rollbacks += 1;
      failBatch(error);
      return;
    }
    stats.commits += 1;
    stats.entriesCommitted += written.length;
    for (const { item, record } of written) item.resolve(record);
  };
}

/** Faults of the database (not of one entry) end the whole transaction. */
function abortsBatch(error: unknown): boolean {
  if (isJitcaError(error)) return error.code === ErrorCodes.STORE_UNAVAILABLE;
  return classifyDatabaseError(error) === 'unavailable';
}

async function writeEntry(db: StoreDb, entry: PreparedEntry, head: AuditHead, at: string): Promise<AuditRecord> {
  const decision = entry.decision;
  if (decision !== undefined) {
    await upsertRequest(db, decision.request, at);
    if (decision.certificate !== undefined) await insertCertificate(db, decision.certificate, at);
    if (decision.approval !== undefined) {
      await insertApproval(db, { requestId: decision.request.id, approver: decision.approval.approver, at });
    }
  }
  const { event } = entry;
  const unhashed: UnhashedAuditRecord = {
    seq: head.seq + 1,
    at,
    type: event.type,
    actor: event.actor,
    ...(event.subject === undefined ? {} : { subject: event.subject }),
    ...(event.requestId === undefined ? {} : { requestId: event.requestId }),
    data: event.data,
    prevHash: head.hash,
  };
  const record: AuditRecord = { ...unhashed, hash: auditRecordHash(unhashed) };
  try {
    await insertAuditRecord(db, record);
  } catch (error) {
    // Only a second writer on the same database (another process) can take our seq.
    if (classifyDatabaseError(error) === 'unique-violation') {
      throw storeUnavailable(`audit seq ${record.seq} was taken by another writer; retry`, error);
    }
    throw error;
  }
  return record;
}
