import { ErrorCodes, JitcaError } from '../errors.ts';
import { compileStatement } from './compiled-statement.ts';
import type { LocalUsersTable, StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import { classifyDatabaseError } from './store-errors.ts';
import type { LocalUser } from './types.ts';

const COLUMNS = {
  name: true,
  groups: true,
  fingerprint: true,
  public_key: true,
  added_by: true,
  added_at: true,
} as const satisfies Record<keyof LocalUsersTable, true>;

export type LocalUserInsert = (executor: StatementExecutor, user: Omit<LocalUser, 'addedAt'>, at: string) => Promise<void>;
export type LocalUserDelete = (executor: StatementExecutor, name: string) => Promise<void>;

/** A taken name or a taken key is one conflict: the CLI reads first and says which. */
export function compileLocalUserInsert(db: StoreDb): LocalUserInsert {
  const statement = compileStatement<LocalUsersTable>(COLUMNS, (row) => db.insertInto('local_users').values(row));
  return async (executor, user, at) => {
    try {
      await executor.run(statement.sql, statement.bind(rowOf(user, at)));
    } catch (error) {
      if (classifyDatabaseError(error) !== 'unique-violation') throw error;
      throw new JitcaError(ErrorCodes.LOCAL_USER_CONFLICT, `a local user named ${user.name} or holding key ${user.fingerprint} is already registered`, {
        details: { name: user.name, fingerprint: user.fingerprint },
        cause: error,
      });
    }
  };
}

export function compileLocalUserDelete(db: StoreDb): LocalUserDelete {
  const statement = compileStatement<{ name: string }>({ name: true }, (row) => db.deleteFrom('local_users').where('name', '=', row.name).returning('name'));
  return async (executor, name) => {
    const deleted = await executor.rows<{ name: string }>(statement.sql, statement.bind({ name }));
    if (deleted.length === 0) throw new JitcaError(ErrorCodes.LOCAL_USER_NOT_FOUND, `no local user ${name}`, { details: { name } });
  };
}

const MAX_LIST = 10_000;

export async function listLocalUsers(db: StoreDb): Promise<LocalUser[]> {
  const rows = await db.selectFrom('local_users').selectAll().orderBy('name').limit(MAX_LIST).execute();
  return rows.map(localUserOf);
}

export async function findLocalUser(db: StoreDb, name: string): Promise<LocalUser | undefined> {
  const row = await db.selectFrom('local_users').selectAll().where('name', '=', name).executeTakeFirst();
  return row === undefined ? undefined : localUserOf(row);
}

function rowOf(user: Omit<LocalUser, 'addedAt'>, at: string): LocalUsersTable {
  return {
    name: user.name,
    groups: JSON.stringify(user.groups),
    fingerprint: user.fingerprint,
    public_key: user.publicKey,
    added_by: user.addedBy,
    added_at: at,
  };
}

function localUserOf(row: LocalUsersTable): LocalUser {
  return {
    name: row.name,
    groups: JSON.parse(row.groups) as string[],
    fingerprint: row.fingerprint,
    publicKey: row.public_key,
    addedBy: row.added_by,
    addedAt: row.added_at,
  };
}
