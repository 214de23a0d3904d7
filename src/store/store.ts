/**
 * The store: requests, issued certificates, approvals and the audit chain. Writes go through the
 * group committer (batch-writer.ts); reads go straight to the database. Nothing here is
 * SQLite-specific except openStore, which picks database.ts (and its direct statement executor);
 * createStore takes any Kysely<DatabaseSchema> (e.g. one built on PostgresDialect).
 */
import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { listApprovals } from './approval-repository.ts';
import { createCheckpointedAuditVerifier } from './audit-checkpoint.ts';
import { readAuditCheckpoint } from './audit-checkpoint-repository.ts';
import { prepareAuditTruncationEntry } from './audit-truncation-entry.ts';
import { listAuditRecords, readAuditHead } from './audit-repository.ts';
import { createBatchWriter } from './batch-writer.ts';
import { findCertificate } from './certificate-repository.ts';
import { openSqliteStoreDatabase } from './database.ts';
import { listCaGenerations } from './ca-generation-repository.ts';
import {
  checkSerial,
  prepareAuditEvent,
  prepareCaGenerationsEntry,
  prepareDecisionEntry,
  prepareNotificationDeadEntry,
  prepareRetentionEntry,
  prepareRevocationEntry,
  MAX_RETIRED_PER_ENTRY,
} from './entry-validation.ts';
import { claimNotifications, notificationBacklog, settleNotification } from './outbox-repository.ts';
import { acquireRotationLock, lastValidBefore, releaseRotationLock } from './rotation-lock-repository.ts';
import type { PreparedEntry } from './entry-validation.ts';
import { prepareKeyEnrollmentEntry, prepareKeyRemovalEntry } from './enrolled-key-entry.ts';
import { findEnrolledKey, listEnrolledKeys } from './enrolled-key-repository.ts';
import { checkAuthChallenge, deleteAuthChallenge, insertAuthChallenge } from './auth-challenge-repository.ts';
import { prepareLocalUserEntry, prepareLocalUserRemovalEntry } from './local-user-entry.ts';
import { findLocalUser, listLocalUsers } from './local-user-repository.ts';
import { createGroupCommitter } from './group-commit.ts';
import { countActiveCertificates } from './active-certificates.ts';
import { migrateToLatest } from './migrations.ts';
import { checkRequestListQuery } from './request-list-query.ts';
import { countRequests, findRequest, listOverduePending, listRequests } from './request-repository.ts';
import { checkHostReport, listHostReports, upsertHostReport } from './host-report-repository.ts';
import { findRevocation, listRevocations, readRevocationsRevision } from './revocation-repository.ts';
import { listRetired } from './retention-repository.ts';
import type { StoreDb } from './schema.ts';
import { kyselyStatementExecutor } from './statement-executor.ts';
import type { StatementExecutorFactory } from './statement-executor.ts';
import { storeUnavailable, toStoreError } from './store-errors.ts';
import type {
  ActiveCertificateCount,
  AuditAnchor,
  AuditCheckpoint,
  AuditTruncationEntry,
  AuditEventInput,
  AuditRecord,
  AuditVerifyResult,
  AuthChallenge,
  AuthChallengeLimits,
  LocalUser,
  LocalUserEntry,
  LocalUserRemovalEntry,
  CaGeneration,
  CaGenerationsEntry,
  DecisionEntry,
  HostReport,
  HostReportLimits,

  EnrolledKey,
  KeyEnrollmentEntry,
  KeyRemovalEntry,
  ListAuditOptions,
  NotificationClaim,
  NotificationDeadEntry,
  NotificationSettlement,
  OutboxSink,
  RequestListQuery,
  RetentionEntry,
  RetiredRequest,
  RevocationEntry,
  RotationFence,
  RotationLockRequest,
  Store,
  StoreStats,
  StoredApproval,
  StoredCertificate,
  StoredRequest,
  StoredRevocation,
} from './types.ts';

export type { Store } from './types.ts';

export interface StoreOptions {
  clock: Clock;
  /** Most entries sharing one transaction (default 256): bounds the latency of a batch. */
  maxBatch?: number;
  /** Notification sinks: each gets an outbox row for the committed records it wants (none: no rows). */
  outboxSinks?: readonly OutboxSink[];
}

export interface OpenStoreOptions extends StoreOptions {
  sqlitePath: string;
  /** See SqliteOptions.busyTimeoutMs (default 5000). */
  busyTimeoutMs?: number;
}

const DEFAULT_MAX_BATCH = 256;
const DEFAULT_AUDIT_PAGE = 1000;
const MAX_AUDIT_PAGE = 10000;
const MAX_ENROLLED_KEYS_PAGE = 1000;
const MAX_NOTIFICATION_CLAIM = 1000;

/** Opens (creating if needed) the SQLite store and brings its schema up to date. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const { db, executorFor } = openSqliteStoreDatabase(options.sqlitePath, { busyTimeoutMs: options.busyTimeoutMs });
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw error;
  }
  return createStore(db, options, executorFor);
}

/**
 * A store over an already-migrated database; the store owns db and destroys it on close().
 * executorFor runs the write path's compiled statements; the default goes through kysely and
 * works with any dialect.
 */
export function createStore(
  db: StoreDb,
  options: StoreOptions,
  executorFor: StatementExecutorFactory = kyselyStatementExecutor,
): Store {
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `maxBatch ${maxBatch} must be a positive integer`);
  }
  const stats: StoreStats = { commits: 0, rollbacks: 0, entriesCommitted: 0, largestBatch: 0 };
  const committer = createGroupCommitter(createBatchWriter(db, options.clock, stats, executorFor, options.outboxSinks ?? []), {
    maxBatch,
    onUnsettled: (error) => toStoreError(error, 'committing the batch'),
  });
  let closing: Promise<void> | undefined;

  function whenOpen(): void {
    if (closing !== undefined) throw storeUnavailable('the store is closed');
  }

  async function write(prepare: () => PreparedEntry): Promise<AuditRecord> {
    whenOpen();
    return committer.submit(prepare());
  }

  async function read<T>(action: string, query: () => Promise<T>): Promise<T> {
    whenOpen();
    try {
      return await query();
    } catch (error) {
      throw toStoreError(error, action);
    }
  }

  return {
    recordDecision: (entry: DecisionEntry) => write(() => prepareDecisionEntry(entry)),
    appendAudit: (event: AuditEventInput) => write(() => prepareAuditEvent(event)),
    recordRevocation: (entry: RevocationEntry) => write(() => prepareRevocationEntry(entry)),
    recordCaGenerations: (entry: CaGenerationsEntry) => write(() => prepareCaGenerationsEntry(entry)),
    recordRetention: (entry: RetentionEntry) => write(() => prepareRetentionEntry(entry)),

    listRetired: async (beforeIso: string, limit: number): Promise<RetiredRequest[]> => {
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RETIRED_PER_ENTRY) {
        throw new JitcaError(ErrorCodes.REQUEST_INVALID, `limit ${limit} must be an integer from 1 to ${MAX_RETIRED_PER_ENTRY}`, { details: { field: 'limit' } });
      }
      return read('listing requests past retention', () => listRetired(db, beforeIso, limit));
    },

    recordKeyEnrollment: (entry: KeyEnrollmentEntry) => write(() => prepareKeyEnrollmentEntry(entry)),
    recordKeyRemoval: (entry: KeyRemovalEntry) => write(() => prepareKeyRemovalEntry(entry)),

    listEnrolledKeys: async (listOptions: { owner?: string; limit?: number } = {}): Promise<EnrolledKey[]> => {
      const limit = listOptions.limit ?? MAX_ENROLLED_KEYS_PAGE;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ENROLLED_KEYS_PAGE) {
        throw new JitcaError(ErrorCodes.REQUEST_INVALID, `limit ${limit} must be an integer from 1 to ${MAX_ENROLLED_KEYS_PAGE}`, {
          details: { field: 'limit' },
        });
      }
      return read('listing enrolled keys', () => listEnrolledKeys(db, listOptions.owner, limit));
    },

    findEnrolledKey: (by: { id: string } | { fingerprint: string }): Promise<EnrolledKey | undefined> =>
      read('reading an enrolled key', () => findEnrolledKey(db, by)),

    recordLocalUser: (entry: LocalUserEntry) => write(() => prepareLocalUserEntry(entry)),
    recordLocalUserRemoval: (entry: LocalUserRemovalEntry) => write(() => prepareLocalUserRemovalEntry(entry)),
    listLocalUsers: (): Promise<LocalUser[]> => read('listing local users', () => listLocalUsers(db)),
    findLocalUser: (name: string): Promise<LocalUser | undefined> => read('reading a local user', () => findLocalUser(db, name)),

    issueAuthChallenge: async (challenge: AuthChallenge, limits: AuthChallengeLimits): Promise<'issued' | 'name-full' | 'address-full'> => {
      // Outside read(): a malformed challenge is the caller's ERR_REQUEST_INVALID, not a store fault.
      checkAuthChallenge(challenge, limits);
      return read('recording a challenge', () => insertAuthChallenge(db, challenge, limits));
    },
    consumeAuthChallenge: (id: string, purpose: string, name?: string): Promise<AuthChallenge | undefined> =>
      read('spending a challenge', () => deleteAuthChallenge(db, id, purpose, name)),

    listCaGenerations: (): Promise<CaGeneration[]> => read('listing CA generations', () => listCaGenerations(db)),

    acquireRotationLock: (request: RotationLockRequest): Promise<RotationFence | undefined> =>
      read(`acquiring the lock ${request.lock}`, () => acquireRotationLock(db, request)),

    releaseRotationLock: (fence: RotationFence): Promise<void> => read(`releasing the lock ${fence.lock}`, () => releaseRotationLock(db, fence)),

    lastValidBefore: (caKeyId: string): Promise<string | undefined> =>
      read(`reading the last certificate of ${caKeyId}`, () => lastValidBefore(db, caKeyId)),

    listRevocations: (validAtIso: string): Promise<StoredRevocation[]> =>
      read('listing revocations', () => listRevocations(db, validAtIso)),

    findRevocation: async (serial: string): Promise<StoredRevocation | undefined> => {
      checkSerial(serial);
      return read(`reading the revocation of ${serial}`, () => findRevocation(db, serial));
    },

    recordHostReport: async (report: HostReport, limits: HostReportLimits): Promise<'recorded' | 'full'> => {
      // Outside read(): a malformed report is the caller's ERR_REQUEST_INVALID, not a store fault.
      checkHostReport(report, limits);
      return read(`recording the report of host ${report.host}`, () => upsertHostReport(db, report, limits));
    },

    listHostReports: (sinceIso: string): Promise<HostReport[]> => read('listing host reports', () => listHostReports(db, sinceIso)),

    revocationsRevision: (): Promise<number> => read('reading the revocations revision', () => readRevocationsRevision(db)),

    getRequest: (id: string): Promise<StoredRequest | undefined> =>
      read(`reading request ${id}`, () => findRequest(db, id)),

    countActiveCertificates: (nowIso: string): Promise<ActiveCertificateCount[]> =>
      read('counting active certificates', () => countActiveCertificates(db, nowIso)),
    findCertificateBySerial: async (serial: string): Promise<StoredCertificate | undefined> => {
      checkSerial(serial);
      return read(`reading certificate ${serial}`, () => findCertificate(db, serial));
    },

    listApprovals: (requestId: string): Promise<StoredApproval[]> =>
      read(`reading approvals of ${requestId}`, () => listApprovals(db, requestId)),

    listRequests: async (query: RequestListQuery): Promise<StoredRequest[]> => {
      // Outside read(): a malformed query is the caller's ERR_REQUEST_INVALID, not a store fault.
      checkRequestListQuery(query);
      return read('listing requests', () => listRequests(db, query));
    },

    claimNotifications: async (claim: NotificationClaim) => {
      if (!Number.isInteger(claim.limit) || claim.limit < 1 || claim.limit > MAX_NOTIFICATION_CLAIM) {
        throw new JitcaError(ErrorCodes.REQUEST_INVALID, `limit ${claim.limit} must be an integer from 1 to ${MAX_NOTIFICATION_CLAIM}`, { details: { field: 'limit' } });
      }
      return read('claiming notifications', () => claimNotifications(db, claim));
    },
    settleNotification: (settlement: NotificationSettlement) => read(`settling notification ${settlement.id}`, () => settleNotification(db, settlement)),
    recordNotificationDead: (entry: NotificationDeadEntry) => write(() => prepareNotificationDeadEntry(entry)),
    notificationBacklog: () => read('counting the notification backlog', () => notificationBacklog(db)),

    countRequests: (state: StoredRequest['state']): Promise<number> => read(`counting ${state} requests`, () => countRequests(db, state)),

    listOverduePending: (beforeIso: string, limit = 100): Promise<StoredRequest[]> =>
      read('listing overdue pending requests', () => listOverduePending(db, beforeIso, limit)),

    listAudit: async (listOptions: ListAuditOptions = {}): Promise<AuditRecord[]> => {
      const afterSeq = listOptions.afterSeq ?? 0;
      const limit = listOptions.limit ?? DEFAULT_AUDIT_PAGE;
      if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) {
        throw new JitcaError(ErrorCodes.REQUEST_INVALID, `afterSeq ${afterSeq} must be a non-negative integer`, {
          details: { field: 'afterSeq' },
        });
      }
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) {
        throw new JitcaError(ErrorCodes.REQUEST_INVALID, `limit ${limit} must be an integer from 1 to ${MAX_AUDIT_PAGE}`, {
          details: { field: 'limit' },
        });
      }
      return read('listing the audit log', () => listAuditRecords(db, afterSeq, limit));
    },

    verifyAudit: (anchors: readonly AuditAnchor[] = []): Promise<AuditVerifyResult> =>
      read('verifying the audit log', async () => {
        // The checkpoint and the first page are two reads: a truncation committed between them
        // would show as a gap, never as a chain that verifies when it should not.
        const checkpoint = await readAuditCheckpoint(db);
        // A malformed anchor, or one before the checkpoint, is the caller's ERR_REQUEST_INVALID (rethrown as is by read()).
        const verifier = createCheckpointedAuditVerifier({ anchors, checkpoint, from: 'database' });
        let afterSeq = checkpoint?.seq ?? 0;
        for (;;) {
          const page = await listAuditRecords(db, afterSeq, DEFAULT_AUDIT_PAGE);
          for (const record of page) {
            if (!verifier.add(record)) return verifier.result();
          }
          const last = page.at(-1);
          if (last === undefined || page.length < DEFAULT_AUDIT_PAGE) return verifier.result();
          afterSeq = last.seq;
        }
      }),

    auditHead: (): Promise<AuditAnchor | undefined> => read('reading the audit head', () => readAuditHead(db)),

    auditCheckpoint: (): Promise<AuditCheckpoint | undefined> => read('reading the audit checkpoint', () => readAuditCheckpoint(db)),

    recordAuditTruncation: (entry: AuditTruncationEntry) => write(() => prepareAuditTruncationEntry(entry)),

    probeWrite: (): Promise<void> =>
      read('probing a write', async () => {
        const trx = await db.startTransaction().execute();
        try {
          await trx.insertInto('write_probe').values({ id: 1 }).execute();
          await trx.deleteFrom('write_probe').where('id', '=', 1).execute();
          await trx.commit().execute();
        } catch (error) {
          // A failed COMMIT (SQLITE_FULL) has already ended the transaction; the rollback's own
          // "no transaction" error must not hide the fault that made it fail.
          await trx.rollback().execute().catch(() => undefined);
          throw error;
        }
      }),

    stats: (): StoreStats => ({ ...stats }),
    // Runs on the caller's thread (PostgreSQL, or inside the store thread itself): no isolate of its own.
    threadHeap: () => Promise.resolve(undefined),

    close: (): Promise<void> => {
      closing ??= committer.idle().then(() => db.destroy());
      return closing;
    },
  };
}
