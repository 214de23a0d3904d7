import { ErrorCodes, JitcaError } from '../errors.ts';
import type { StoreDb } from './schema.ts';
import type { AuthChallenge, AuthChallengeLimits } from './types.ts';

/** The store's own check: a challenge reaches the table only bounded and well-formed. */
export function checkAuthChallenge(challenge: AuthChallenge, limits: AuthChallengeLimits): void {
  const problem = !isText(challenge.id, 128)
    ? 'id'
    : !isText(challenge.purpose, 32)
      ? 'purpose'
      : !isText(challenge.name, 256)
        ? 'name'
        : !isText(challenge.address, 64)
          ? 'address'
          : Number.isNaN(Date.parse(challenge.expiresAt))
            ? 'expiresAt'
            : Number.isNaN(Date.parse(limits.nowIso))
              ? 'nowIso'
              : !positive(limits.perName)
                ? 'perName'
                : limits.perAddress !== undefined && !positive(limits.perAddress)
                  ? 'perAddress'
                  : ![undefined, 'refuse', 'replace-oldest'].includes(limits.whenNameFull)
                    ? 'whenNameFull'
                    : undefined;
  if (problem !== undefined) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `challenge field ${problem} is not valid`, { details: { field: problem } });
  }
}

function isText(value: unknown, max: number): boolean {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

function positive(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

/** One transaction: expired rows go, then the two counts (the name's oldest replaced if so asked), then the insert. */
export async function insertAuthChallenge(db: StoreDb, challenge: AuthChallenge, limits: AuthChallengeLimits): Promise<'issued' | 'name-full' | 'address-full'> {
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom('auth_challenges').where('expires_at', '<=', limits.nowIso).execute();
    const count = async (column: 'name' | 'address', value: string): Promise<number> => {
      const { n } = await trx
        .selectFrom('auth_challenges')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('purpose', '=', challenge.purpose)
        .where(column, '=', value)
        .executeTakeFirstOrThrow();
      return Number(n);
    };
    const held = await count('name', challenge.name);
    const replacing = limits.whenNameFull === 'replace-oldest';
    if (held >= limits.perName && !replacing) return 'name-full';
    if (limits.perAddress !== undefined && (await count('address', challenge.address)) >= limits.perAddress) return 'address-full';
    // Only once nothing refuses: a refused issue deletes nothing but the expired.
    if (held >= limits.perName) await deleteOldest(trx, challenge, held - limits.perName + 1);
    await trx
      .insertInto('auth_challenges')
      .values({ id: challenge.id, purpose: challenge.purpose, name: challenge.name, address: challenge.address, expires_at: challenge.expiresAt })
      .execute();
    return 'issued';
  });
}

/**
 * The name's `count` oldest of this purpose. One purpose shares one lifetime, so the earliest
 * expiry is the earliest issued (the table keeps no issue time).
 */
async function deleteOldest(trx: StoreDb, challenge: AuthChallenge, count: number): Promise<void> {
  const oldest = await trx
    .selectFrom('auth_challenges')
    .select('id')
    .where('purpose', '=', challenge.purpose)
    .where('name', '=', challenge.name)
    .orderBy('expires_at')
    .orderBy('id')
    .limit(count)
    .execute();
  if (oldest.length > 0) await trx.deleteFrom('auth_challenges').where('id', 'in', oldest.map((row) => row.id)).execute();
}

export async function deleteAuthChallenge(db: StoreDb, id: string, purpose: string, name?: string): Promise<AuthChallenge | undefined> {
  let spend = db.deleteFrom('auth_challenges').where('id', '=', id).where('purpose', '=', purpose);
  if (name !== undefined) spend = spend.where('name', '=', name);
  const row = await spend.returningAll().executeTakeFirst();
  return row === undefined ? undefined : { id: row.id, purpose: row.purpose, name: row.name, address: row.address, expiresAt: row.expires_at };
}
