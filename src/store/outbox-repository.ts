import { sql } from 'kysely';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { leaseHeldBy } from '../ha/postgres-lease.ts';
import { listAuditRecords } from './audit-repository.ts';
import { compileStatement } from './compiled-statement.ts';
import type { StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import type {
  AuditEventType,
  ClaimedNotification,
  LeaderFence,
  NotificationBacklog,
  NotificationClaim,
  NotificationKind,
  NotificationSettlement,
  OutboxSink,
} from './types.ts';

/**
 * The notification outbox's rows (migration 0013). Rows are inserted by the batch writer in the
 * transaction of the audit record they announce; the delivery job (src/notify) claims, settles
 * and gives them up here, each in its own transaction fenced by the leader lease when there is one.
 */

/**
 * Which committed audit records are announced, and as what. An issuance is announced only when
 * approvers made it (`approvedBy`): an automatic one is the policy working as written.
 */
export function notificationKindOf(type: AuditEventType, data: Record<string, unknown>): NotificationKind | undefined {
  switch (type) {
    case 'request.pending':
      return 'pending';
    case 'request.approved':
      return 'approved';
    case 'request.denied':
      return 'denied';
    case 'request.expired':
      return 'expired';
    case 'request.expiring':
      return 'expiring';
    case 'ssh.issued':
    case 'x509.issued':
      return Array.isArray(data['approvedBy']) && data['approvedBy'].length > 0 ? 'issued' : undefined;
    default:
      return undefined;
  }
}

export function outboxRowId(auditSeq: number, sink: string): string {
  return `${auditSeq}:${sink}`;
}

export type OutboxInsert = (executor: StatementExecutor, row: { auditSeq: number; sink: string; kind: NotificationKind; at: string }) => Promise<void>;

/** The batch writer's insert: due at once, in the audit record's transaction. */
export function compileOutboxInsert(db: StoreDb): OutboxInsert {
  const statement = compileStatement<{ id: string; audit_seq: number; sink: string; kind: string; next_attempt_at: string; created_at: string }>(
    { id: true, audit_seq: true, sink: true, kind: true, next_attempt_at: true, created_at: true },
    (row) => db.insertInto('notification_outbox').values({ ...row, state: 'pending', attempts: 0 }),
  );
  return async (executor, row) => {
    await executor.run(
      statement.sql,
      statement.bind({ id: outboxRowId(row.auditSeq, row.sink), audit_seq: row.auditSeq, sink: row.sink, kind: row.kind, next_attempt_at: row.at, created_at: row.at }),
    );
  };
}

/** What routes a record: the role of the request it decides, and who may approve that request. */
export interface RoutedRequest {
  role?: string;
  /**
   * From the request row's decision (approverGroupsOf); empty when no person approves it. A
   * function: the decision is parsed only when a sink routes by approver group and the record is
   * announced at all, not for every issuance.
   */
  approverGroups: () => readonly string[];
}

/**
 * The sinks that want an outbox row for this record, with the kind it is announced as. `request`
 * is the request the record decides (every announced record comes with its request row).
 */
export function outboxRowsFor(
  sinks: readonly OutboxSink[],
  type: AuditEventType,
  data: Record<string, unknown>,
  request: RoutedRequest | undefined,
): Array<{ sink: string; kind: NotificationKind }> {
  if (sinks.length === 0) return [];
  const kind = notificationKindOf(type, data);
  if (kind === undefined) return [];
  return sinks.filter((sink) => sink.kinds.includes(kind) && routesTo(sink, request)).map((sink) => ({ sink: sink.name, kind }));
}

function routesTo(sink: OutboxSink, request: RoutedRequest | undefined): boolean {
  if (sink.roles !== undefined && (request?.role === undefined || !sink.roles.includes(request.role))) return false;
  if (sink.approverGroups !== undefined && !intersects(sink.approverGroups, request?.approverGroups() ?? [])) return false;
  return true;
}

function intersects(wanted: readonly string[], present: readonly string[]): boolean {
  return wanted.some((group) => present.includes(group));
}


function fenced(leader: LeaderFence): JitcaError {
  return new JitcaError(ErrorCodes.LEADER_FENCED, `leader term ${leader.term} of ${leader.name} no longer holds the lease; nothing was written`, {
    details: { lease: leader.name, term: leader.term },
  });
}

export type LeaderFenceCheck = (executor: StatementExecutor, leader: LeaderFence) => Promise<void>;

/**
 * Inside a write's transaction (PostgreSQL): the lease row, read FOR SHARE, while this term holds
 * it. A takeover updates that row, so it waits for this transaction's commit; a term already gone
 * finds no row and the write is refused.
 */
export function compileLeaderFenceCheck(db: StoreDb): LeaderFenceCheck {
  const statement = compileStatement<{ name: string; holder: string; term: number }>({ name: true, holder: true, term: true }, (row) => ({
    compile: () => sql`select 1 as held from leader_leases ${leaseHeldBy(row)} for share`.compile(db),
  }));
  return async (executor, leader) => {
    const rows = await executor.rows(statement.sql, statement.bind({ name: leader.name, holder: leader.holder, term: leader.term }));
    if (rows.length === 0) throw fenced(leader);
  };
}

async function checkLeader(trx: StoreDb, leader: LeaderFence | undefined): Promise<void> {
  if (leader === undefined) return;
  const { rows } = await sql`select 1 as held from leader_leases ${leaseHeldBy(leader)} for share`.execute(trx);
  if (rows.length === 0) throw fenced(leader);
}

export type OutboxDeadUpdate = (executor: StatementExecutor, row: { id: string; attempt: number; error: string }) => Promise<void>;

export function compileOutboxDeadUpdate(db: StoreDb): OutboxDeadUpdate {
  const statement = compileStatement<{ id: string; attempts: number; last_error: string }>({ id: true, attempts: true, last_error: true }, (row) =>
    db
      .updateTable('notification_outbox')
      .set({ state: 'dead', last_error: row.last_error })
      .where('id', '=', row.id)
      .where('state', '=', 'pending')
      .where('attempts', '=', row.attempts)
      .returning(['id']),
  );
  return async (executor, row) => {
    const rows = await executor.rows(statement.sql, statement.bind({ id: row.id, attempts: row.attempt, last_error: row.error }));
    if (rows.length === 0) {
      throw new JitcaError(ErrorCodes.STORE_CONFLICT, `notification ${row.id} is no longer pending at attempt ${row.attempt}`, { details: { id: row.id } });
    }
  };
}

export async function claimNotifications(db: StoreDb, claim: NotificationClaim): Promise<ClaimedNotification[]> {
  return db.transaction().execute(async (trx) => {
    await checkLeader(trx, claim.leader);
    await trx.deleteFrom('notification_outbox').where('state', '=', 'sent').where('sent_at', '<', claim.pruneSentBeforeIso).execute();
    const due = await trx
      .selectFrom('notification_outbox')
      .select(['id', 'audit_seq', 'sink', 'kind', 'attempts', 'created_at'])
      .where('state', '=', 'pending')
      .where('next_attempt_at', '<=', claim.nowIso)
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(claim.limit)
      .execute();
    const claimed: ClaimedNotification[] = [];
    for (const row of due) {
      const attempt = Number(row.attempts) + 1;
      await trx
        .updateTable('notification_outbox')
        .set({ attempts: attempt, next_attempt_at: claim.claimUntilIso })
        .where('id', '=', row.id)
        .where('attempts', '=', Number(row.attempts))
        .execute();
      const seq = Number(row.audit_seq);
      const [record] = await listAuditRecords(trx, seq - 1, 1);
      if (record?.seq !== seq) continue;
      claimed.push({ id: row.id, sink: row.sink, kind: row.kind as NotificationKind, attempt, createdAt: row.created_at, record });
    }
    return claimed;
  });
}

export async function settleNotification(db: StoreDb, settlement: NotificationSettlement): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await checkLeader(trx, settlement.leader);
    const update = trx.updateTable('notification_outbox');
    const set =
      settlement.outcome === 'sent'
        ? update.set({ state: 'sent', sent_at: settlement.atIso, last_error: null })
        : update.set({ next_attempt_at: settlement.nextAttemptIso, last_error: settlement.error });
    const rows = await set
      .where('id', '=', settlement.id)
      .where('state', '=', 'pending')
      .where('attempts', '=', settlement.attempt)
      .returning(['id'])
      .execute();
    return rows.length === 1;
  });
}

export async function notificationBacklog(db: StoreDb): Promise<NotificationBacklog> {
  const rows = await db
    .selectFrom('notification_outbox')
    .select((eb) => ['state', eb.fn.countAll<number>().as('count'), eb.fn.min('created_at').as('oldest')])
    .where('state', 'in', ['pending', 'dead'])
    .groupBy('state')
    .execute();
  const pending = rows.find((row) => row.state === 'pending');
  const dead = rows.find((row) => row.state === 'dead');
  const backlog: NotificationBacklog = { pending: Number(pending?.count ?? 0), dead: Number(dead?.count ?? 0) };
  if (pending?.oldest != null) backlog.oldestPendingAt = pending.oldest;
  return backlog;
}
