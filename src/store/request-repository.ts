import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseStoredJsonObject } from './canonical-json.ts';
import { compileStatement } from './compiled-statement.ts';
import type { PreparedRequest } from './entry-validation.ts';
import type { RequestsTable, StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import type { RequestListQuery, StoredRequest } from './types.ts';

const REQUEST_COLUMNS = {
  id: true,
  kind: true,
  requester: true,
  role: true,
  state: true,
  body: true,
  decision: true,
  created_at: true,
  expires_at: true,
  updated_at: true,
  version: true,
} as const satisfies Record<keyof RequestsTable, true>;

export type RequestUpsert = (executor: StatementExecutor, request: PreparedRequest, updatedAt: string) => void | Promise<void>;

/**
 * Inserts the request or moves an existing one to its new state. What was asked (kind,
 * requester, role, body) and when (created_at) keep their first values: a later decision on the
 * same request cannot rewrite what the requester asked for. Every update bumps the version.
 *
 * With request.expectedVersion, the stored version is read first and must still be that one,
 * else ERR_REQUEST_CHANGED. Read and write run in the batch's transaction, which no other writer
 * can interleave with: SQLite's BEGIN IMMEDIATE holds the write lock, and on PostgreSQL every
 * batch takes the store's advisory lock before its first read (postgres-database.ts).
 * Compiled once per store.
 */
export function compileRequestUpsert(db: StoreDb): RequestUpsert {
  const statement = compileStatement<RequestsTable>(REQUEST_COLUMNS, (row) =>
    db
      .insertInto('requests')
      .values(row)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          state: eb.ref('excluded.state'),
          decision: eb.ref('excluded.decision'),
          expires_at: eb.ref('excluded.expires_at'),
          updated_at: eb.ref('excluded.updated_at'),
          version: eb('requests.version', '+', 1),
        })),
      ),
  );
  const versionOf = compileStatement<Pick<RequestsTable, 'id'>>({ id: true }, (row) =>
    db.selectFrom('requests').select('version').where('id', '=', row.id),
  );
  const upsert = (executor: StatementExecutor, request: PreparedRequest, updatedAt: string): void | Promise<void> =>
    executor.run(
      statement.sql,
      statement.bind({
        id: request.id,
        kind: request.kind,
        requester: request.requester,
        role: request.role ?? null,
        state: request.state,
        body: request.bodyJson,
        decision: request.decisionJson,
        created_at: request.createdAt,
        expires_at: request.expiresAt ?? null,
        updated_at: updatedAt,
        version: 0,
      }),
    );
  return (executor, request, updatedAt) => {
    const expected = request.expectedVersion;
    if (expected === undefined) return upsert(executor, request, updatedAt);
    return (async () => {
      const [row] = await executor.rows<Pick<RequestsTable, 'version'>>(versionOf.sql, versionOf.bind({ id: request.id }));
      // PostgreSQL drivers may hand integers back as strings.
      const current = row === undefined ? undefined : Number(row.version);
      if (current !== expected) {
        throw new JitcaError(
          ErrorCodes.REQUEST_CHANGED,
          `request ${request.id} changed after it was read (version ${current ?? 'none'}, expected ${expected}); read it again and decide again`,
          { details: { requestId: request.id } },
        );
      }
      await upsert(executor, request, updatedAt);
    })();
  };
}

export async function findRequest(db: StoreDb, id: string): Promise<StoredRequest | undefined> {
  const row = await db.selectFrom('requests').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toStoredRequest(row);
}

export function toStoredRequest(row: RequestsTable): StoredRequest {
  const request: StoredRequest = {
    id: row.id,
    kind: row.kind as StoredRequest['kind'],
    requester: row.requester,
    state: row.state,
    body: parseStoredJsonObject(row.body),
    decision: parseStoredJsonObject(row.decision),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: Number(row.version),
  };
  if (row.role !== null) request.role = row.role;
  if (row.expires_at !== null) request.expiresAt = row.expires_at;
  return request;
}

/** How many requests are in `state` (the pending-approvals gauge). */
export async function countRequests(db: StoreDb, state: StoredRequest['state']): Promise<number> {
  const row = await db.selectFrom('requests').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', state).executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Pending requests whose approval window closed before `beforeIso` (the expiry sweep), oldest first. */
export async function listOverduePending(db: StoreDb, beforeIso: string, limit: number): Promise<StoredRequest[]> {
  const rows = await db
    .selectFrom('requests')
    .selectAll()
    .where('state', '=', 'pending')
    .where('expires_at', 'is not', null)
    .where('expires_at', '<=', beforeIso)
    .orderBy('expires_at')
    .limit(limit)
    .execute();
  return rows.map(toStoredRequest);
}

/**
 * One page of a request list, newest first. The order is (created_at, id) descending: created_at
 * alone ties (a batch shares a clock reading), and a position that names both is one no later
 * insert can fall between, so paging neither repeats nor skips. ISO-8601 text in UTC sorts as time.
 */
export async function listRequests(db: StoreDb, query: RequestListQuery): Promise<StoredRequest[]> {
  const { scope } = query;
  const roles = scope.onlyRoles === undefined ? scope.roles : scope.roles.filter((role) => scope.onlyRoles!.includes(role));
  if (scope.requester === undefined && roles.length === 0) return [];
  if (scope.onlyRoles !== undefined && scope.onlyRoles.length === 0) return [];
  let select = db
    .selectFrom('requests')
    .selectAll()
    .where('state', 'in', [...query.states])
    .where((eb) => {
      const whose = [];
      if (scope.requester !== undefined) whose.push(eb('requester', '=', scope.requester));
      if (roles.length > 0) whose.push(eb('role', 'in', roles));
      return eb.or(whose);
    });
  if (scope.notRequester !== undefined) select = select.where('requester', '!=', scope.notRequester);
  if (scope.onlyRoles !== undefined) select = select.where('role', 'in', [...scope.onlyRoles]);
  const after = query.after;
  if (after !== undefined) {
    select = select.where((eb) =>
      eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)])]),
    );
  }
  const rows = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
  return rows.map(toStoredRequest);
}
