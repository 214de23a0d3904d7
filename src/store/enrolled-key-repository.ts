import { ErrorCodes, JitcaError } from '../errors.ts';
import { compileStatement } from './compiled-statement.ts';
import type { EnrolledKeysTable, StoreDb } from './schema.ts';
import type { StatementExecutor } from './statement-executor.ts';
import { classifyDatabaseError } from './store-errors.ts';
import type { EnrolledKey, EnrolledKeyKind } from './types.ts';

const COLUMNS = {
  id: true,
  owner: true,
  fingerprint: true,
  public_key: true,
  kind: true,
  attested: true,
  root: true,
  serial: true,
  firmware: true,
  pin_policy: true,
  touch_policy: true,
  form_factor: true,
  flag_up: true,
  flag_uv: true,
  enrolled_at: true,
} as const satisfies Record<keyof EnrolledKeysTable, true>;

export type EnrolledKeyInsert = (executor: StatementExecutor, key: Omit<EnrolledKey, 'enrolledAt'>, at: string) => Promise<void>;
export type EnrolledKeyDelete = (executor: StatementExecutor, removal: { id: string; owner: string }) => Promise<void>;

/** One row per fingerprint: a second enrollment of a key, by anyone, is ERR_KEY_ALREADY_ENROLLED. */
export function compileEnrolledKeyInsert(db: StoreDb): EnrolledKeyInsert {
  const statement = compileStatement<EnrolledKeysTable>(COLUMNS, (row) => db.insertInto('enrolled_keys').values(row));
  return async (executor, key, at) => {
    try {
      await executor.run(statement.sql, statement.bind(rowOf(key, at)));
    } catch (error) {
      if (classifyDatabaseError(error) !== 'unique-violation') throw error;
      throw new JitcaError(ErrorCodes.KEY_ALREADY_ENROLLED, `key ${key.fingerprint} is already enrolled`, {
        details: { fingerprint: key.fingerprint },
        cause: error,
      });
    }
  };
}

/**
 * Deletes the row only while it still has the owner the caller read, so a removal decided on a
 * row that changed since deletes nothing (and its audit record rolls back with it).
 */
export function compileEnrolledKeyDelete(db: StoreDb): EnrolledKeyDelete {
  const statement = compileStatement<{ id: string; owner: string }>({ id: true, owner: true }, (row) =>
    db.deleteFrom('enrolled_keys').where('id', '=', row.id).where('owner', '=', row.owner).returning('id'),
  );
  return async (executor, removal) => {
    const deleted = await executor.rows<{ id: string }>(statement.sql, statement.bind(removal));
    if (deleted.length === 0) {
      throw new JitcaError(ErrorCodes.ENROLLED_KEY_NOT_FOUND, `no enrolled key ${removal.id} of ${removal.owner}`, {
        details: { id: removal.id },
      });
    }
  };
}

const MAX_LIST = 1000;

export async function listEnrolledKeys(db: StoreDb, owner: string | undefined, limit: number): Promise<EnrolledKey[]> {
  let query = db.selectFrom('enrolled_keys').selectAll();
  if (owner !== undefined) query = query.where('owner', '=', owner);
  const rows = await query.orderBy('enrolled_at').orderBy('id').limit(Math.min(limit, MAX_LIST)).execute();
  return rows.map(enrolledKeyOf);
}

export async function findEnrolledKey(db: StoreDb, by: { id: string } | { fingerprint: string }): Promise<EnrolledKey | undefined> {
  const query = db.selectFrom('enrolled_keys').selectAll();
  const row = await ('id' in by ? query.where('id', '=', by.id) : query.where('fingerprint', '=', by.fingerprint)).executeTakeFirst();
  return row === undefined ? undefined : enrolledKeyOf(row);
}

function rowOf(key: Omit<EnrolledKey, 'enrolledAt'>, at: string): EnrolledKeysTable {
  return {
    id: key.id,
    owner: key.owner,
    fingerprint: key.fingerprint,
    public_key: key.publicKey,
    kind: key.kind,
    attested: key.attested ? 1 : 0,
    root: key.root ?? null,
    serial: key.serial ?? null,
    firmware: key.firmware ?? null,
    pin_policy: key.pinPolicy ?? null,
    touch_policy: key.touchPolicy ?? null,
    form_factor: key.formFactor === undefined ? null : JSON.stringify(key.formFactor),
    flag_up: key.flags === undefined ? null : Number(key.flags.up),
    flag_uv: key.flags === undefined ? null : Number(key.flags.uv),
    enrolled_at: at,
  };
}

function enrolledKeyOf(row: EnrolledKeysTable): EnrolledKey {
  return {
    id: row.id,
    owner: row.owner,
    fingerprint: row.fingerprint,
    publicKey: row.public_key,
    kind: row.kind as EnrolledKeyKind,
    attested: Number(row.attested) === 1,
    ...(row.root === null ? {} : { root: row.root }),
    ...(row.serial === null ? {} : { serial: Number(row.serial) }),
    ...(row.firmware === null ? {} : { firmware: row.firmware }),
    ...(row.pin_policy === null ? {} : { pinPolicy: row.pin_policy }),
    ...(row.touch_policy === null ? {} : { touchPolicy: row.touch_policy }),
    ...(row.form_factor === null ? {} : { formFactor: JSON.parse(row.form_factor) as EnrolledKey['formFactor'] }),
    ...(row.flag_up === null || row.flag_uv === null ? {} : { flags: { up: Number(row.flag_up) === 1, uv: Number(row.flag_uv) === 1 } }),
    enrolledAt: row.enrolled_at,
  };
}
