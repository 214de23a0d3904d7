import { parseStoredJsonObject, canonicalJson } from './canonical-json.ts';
import type { RequestsTable, StoreDb } from './schema.ts';
import type { RequestInput, StoredRequest } from './types.ts';

/**
 * Inserts the request or moves an existing one to its new state. What was asked (kind,
 * requester, role, body) and when (created_at) keep their first values: a later decision on the
 * same request cannot rewrite what the requester asked for.
 */
export async function upsertRequest(db: StoreDb, request: RequestInput, updatedAt: string): Promise<void> {
  await db
    .insertInto('requests')
    .values({
      id: request.id,
      kind: request.kind,
      requester: request.requester,
      role: request.role ?? null,
      state: request.state,
      body: canonicalJson(request.body),
      decision: canonicalJson(request.decision),
      created_at: request.createdAt,
      expires_at: request.expiresAt ?? null,
      updated_at: updatedAt,
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        state: eb.ref('excluded.state'),
        decision: eb.ref('excluded.decision'),
        expires_at: eb.ref('excluded.expires_at'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .execute();
}

export async function findRequest(db: StoreDb, id: string): Promise<StoredRequest | undefined> {
  const row = await db.selectFrom('requests').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toStoredRequest(row);
}

function toStoredRequest(row: RequestsTable): StoredRequest {
  const request: StoredRequest = {
    id: row.id,
    kind: row.kind as StoredRequest['kind'],
    requester: row.requester,
    state: row.state,
    body: parseStoredJsonObject(row.body),
    decision: parseStoredJsonObject(row.decision),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.role !== null) request.role = row.role;
  if (row.expires_at !== null) request.expiresAt = row.expires_at;
  return request;
}
