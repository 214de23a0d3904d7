/**
 * Writes one group-commit batch: one transaction, one SAVEPOINT per entry. An entry that fails
 * on its own (duplicate serial, duplicate approval, a bug) is rolled back to its savepoint and
 * rejected alone; the others commit together. A database fault aborts the whole transaction and
 * rejects every entry, so nothing is half-written. Audit seq and prevHash are assigned here, in
 * queue order, from the head read inside the same transaction, so the chain stays linear.
 *
 * The statements are compiled once (compiled-statement.ts) and run through a StatementExecutor;
 * only BEGIN, COMMIT and ROLLBACK go through kysely's transaction API, once per batch.
 */
import { sql } from 'kysely';
import type { Clock } from '../clock.ts';
import { ErrorCodes, isJitcaError } from '../errors.ts';
import { compileApprovalInsert } from './approval-repository.ts';
import type { ApprovalInsert } from './approval-repository.ts';
import { auditContentHash } from './audit-chain.ts';
import type { UnhashedAuditRecord } from './audit-chain.ts';
import { compileAuditTruncation } from './audit-checkpoint-repository.ts';
import type { AuditTruncationWrite } from './audit-checkpoint-repository.ts';
import { compileAuditWrites } from './audit-repository.ts';
import type { AuditHead, AuditWrites } from './audit-repository.ts';
import { compileCaGenerationUpsert } from './ca-generation-repository.ts';
import { compileFenceCheck } from './rotation-lock-repository.ts';
import type { FenceCheck } from './rotation-lock-repository.ts';
import type { CaGenerationUpsert } from './ca-generation-repository.ts';
import { compileCertificateInsert } from './certificate-repository.ts';
import type { CertificateInsert } from './certificate-repository.ts';
import { compileEnrolledKeyDelete, compileEnrolledKeyInsert } from './enrolled-key-repository.ts';
import type { EnrolledKeyDelete, EnrolledKeyInsert } from './enrolled-key-repository.ts';
import { compileLocalUserDelete, compileLocalUserInsert } from './local-user-repository.ts';
import type { LocalUserDelete, LocalUserInsert } from './local-user-repository.ts';
import type { PreparedEntry } from './entry-validation.ts';
import type { BatchItem, BatchWriter } from './group-commit.ts';
import { approverGroupsOf } from './approver-groups.ts';
import { compileLeaderFenceCheck, compileOutboxDeadUpdate, compileOutboxInsert, outboxRowsFor } from './outbox-repository.ts';
import type { LeaderFenceCheck, OutboxDeadUpdate, OutboxInsert } from './outbox-repository.ts';
import { compileRequestUpsert } from './request-repository.ts';
import type { RequestUpsert } from './request-repository.ts';
import { compileRevocationInsert } from './revocation-repository.ts';
import type { RevocationInsert } from './revocation-repository.ts';
import { compileRetiredRowsDelete } from './retention-repository.ts';
import type { RetiredRowsDelete } from './retention-repository.ts';
import type { StoreDb } from './schema.ts';
import { kyselyStatementExecutor } from './statement-executor.ts';
import type { StatementExecutor, StatementExecutorFactory } from './statement-executor.ts';
import { classifyDatabaseError, storeUnavailable, toStoreError } from './store-errors.ts';
import type { AuditRecord, OutboxSink, StoreStats } from './types.ts';

const SAVEPOINT = 'jitca_entry';

interface WriteStatements {
  upsertRequest: RequestUpsert;
  insertCertificate: CertificateInsert;
  insertApproval: ApprovalInsert;
  insertRevocation: RevocationInsert;
  deleteRetiredRows: RetiredRowsDelete;
  upsertCaGeneration: CaGenerationUpsert;
  insertEnrolledKey: EnrolledKeyInsert;
  deleteEnrolledKey: EnrolledKeyDelete;
  insertLocalUser: LocalUserInsert;
  deleteLocalUser: LocalUserDelete;
  checkFence: FenceCheck;
  checkLeader: LeaderFenceCheck;
  insertOutboxRow: OutboxInsert;
  markNotificationDead: OutboxDeadUpdate;

  truncateAudit: AuditTruncationWrite;
  audit: AuditWrites;
  savepoint: string;
  release: string;
  rollbackTo: string;
}

function compileWriteStatements(db: StoreDb): WriteStatements {
  // Savepoint commands as kysely's driver writes them (`savepoint "name"`), valid in SQLite and PostgreSQL.
  const command = (verb: string): string => sql`${sql.raw(verb)} ${sql.id(SAVEPOINT)}`.compile(db).sql;
  return {
    upsertRequest: compileRequestUpsert(db),
    insertCertificate: compileCertificateInsert(db),
    insertApproval: compileApprovalInsert(db),
    insertRevocation: compileRevocationInsert(db),
    deleteRetiredRows: compileRetiredRowsDelete(db),
    upsertCaGeneration: compileCaGenerationUpsert(db),
    insertEnrolledKey: compileEnrolledKeyInsert(db),
    deleteEnrolledKey: compileEnrolledKeyDelete(db),
    insertLocalUser: compileLocalUserInsert(db),
    deleteLocalUser: compileLocalUserDelete(db),
    checkFence: compileFenceCheck(db),
    checkLeader: compileLeaderFenceCheck(db),
    insertOutboxRow: compileOutboxInsert(db),
    markNotificationDead: compileOutboxDeadUpdate(db),

    truncateAudit: compileAuditTruncation(db),
    audit: compileAuditWrites(db),
    savepoint: command('savepoint'),
    release: command('release'),
    rollbackTo: command('rollback to'),
  };
}

export function createBatchWriter(
  db: StoreDb,
  clock: Clock,
  stats: StoreStats,
  executorFor: StatementExecutorFactory = kyselyStatementExecutor,
  outboxSinks: readonly OutboxSink[] = [],
): BatchWriter<PreparedEntry, AuditRecord> {
  const statements = compileWriteStatements(db);
  const noParameters: unknown[] = [];

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

    const executor = executorFor(trx);
    const written: Array<{ item: BatchItem<PreparedEntry, AuditRecord>; record: AuditRecord }> = [];
    try {
      // The head lives in memory for the length of this transaction only: read once at its start
      // (so records another process committed since our last batch are honoured), advanced only
      // by entries whose savepoint was released, and dropped with the transaction, so an entry or
      // a batch that rolled back never leaves its seq behind.
      let head = await statements.audit.readHead(executor);
      for (const item of items) {
        await executor.run(statements.savepoint, noParameters);
        try {
          const record = await writeEntry(executor, statements, item.input, head, new Date(clock.now()).toISOString(), outboxSinks);
          await executor.run(statements.release, noParameters);
          head = { seq: record.seq, hash: record.hash };
          written.push({ item, record });
        } catch (error) {
          if (abortsBatch(error)) throw error;
          await executor.run(statements.rollbackTo, noParameters);
          await executor.run(statements.release, noParameters);
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

async function writeEntry(
  executor: StatementExecutor,
  statements: WriteStatements,
  entry: PreparedEntry,
  head: AuditHead,
  at: string,
  outboxSinks: readonly OutboxSink[],
): Promise<AuditRecord> {
  const decision = entry.decision;
  if (decision !== undefined) {
    await statements.upsertRequest(executor, decision.request, at);
    if (decision.certificate !== undefined) await statements.insertCertificate(executor, decision.certificate, at);
    if (decision.approval !== undefined) {
      await statements.insertApproval(executor, { requestId: decision.request.id, at, ...decision.approval });
    }
  }
  if (entry.revocation !== undefined) await statements.insertRevocation(executor, entry.revocation, at, head.seq + 1);
  for (const requestId of entry.retiredRequestIds ?? []) await statements.deleteRetiredRows(executor, requestId);
  // Before the rows, in the same transaction: a step under a lost hold writes nothing.
  if (entry.fence !== undefined) await statements.checkFence(executor, entry.fence);
  for (const generation of entry.caGenerations ?? []) await statements.upsertCaGeneration(executor, generation);
  if (entry.enrolledKey !== undefined) await statements.insertEnrolledKey(executor, entry.enrolledKey, at);
  if (entry.removedKey !== undefined) await statements.deleteEnrolledKey(executor, entry.removedKey);
  if (entry.deadNotification !== undefined) {
    const { leader, ...dead } = entry.deadNotification;
    if (leader !== undefined) await statements.checkLeader(executor, leader);
    await statements.markNotificationDead(executor, dead);
  }

  // The record written below chains to the head read at the start of the batch whether or not
  // the truncation removed it: the checkpoint row keeps the last removed record's hash.
  if (entry.auditTruncation !== undefined) await statements.truncateAudit(executor, entry.auditTruncation, at);
  if (entry.localUser !== undefined) await statements.insertLocalUser(executor, entry.localUser, at);
  if (entry.removedLocalUser !== undefined) await statements.deleteLocalUser(executor, entry.removedLocalUser);
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
  const record: AuditRecord = { ...unhashed, hash: auditContentHash(unhashed, event.dataJson) };
  try {
    await statements.audit.insert(executor, { record, dataJson: event.dataJson });
  } catch (error) {
    // Only a second writer on the same database (another process) can take our seq.
    if (classifyDatabaseError(error) === 'unique-violation') {
      throw storeUnavailable(`audit seq ${record.seq} was taken by another writer; retry`, error);
    }
    throw error;
  }
  // In the record's own savepoint: an entry rolled back announces nothing, a committed one always.
  const routed = decision === undefined ? undefined : { role: decision.request.role, approverGroups: () => approverGroupsOf(JSON.parse(decision.request.decisionJson) as Record<string, unknown>) };
  for (const row of outboxRowsFor(outboxSinks, event.type, event.data, routed)) {
    await statements.insertOutboxRow(executor, { auditSeq: record.seq, sink: row.sink, kind: row.kind, at });
  }
  return record;
}
