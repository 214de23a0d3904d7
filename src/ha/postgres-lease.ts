import { sql, type Kysely } from 'kysely';
import type { DatabaseSchema } from '../store/schema.ts';
import type { LeaderTerm, LeaseBackend } from './lease.ts';

/**
 * Leader leases in PostgreSQL (table leader_leases, migration 0014), in the
 * manner of Vault's PostgreSQL HA lock: every statement is one atomic upsert or update whose
 * expiry test uses the database's clock_timestamp(), so replicas' clocks never decide.
 *
 * The term only grows: a takeover is `term + 1` in the same statement that checks the previous
 * holder's expiry, so two replicas racing for an expired lease cannot both get a term.
 */
export function postgresLeaseBackend(db: Kysely<DatabaseSchema>): LeaseBackend {
  return {
    async tryAcquire(name, holder, leaseMs) {
      const result = await sql<{ term: string }>`
        insert into leader_leases as l (name, holder, term, transitions, acquired_at, renewed_at, expires_at)
        values (${name}, ${holder}, 1, 0, clock_timestamp(), clock_timestamp(), clock_timestamp() + ${leaseMs} * interval '1 millisecond')
        on conflict (name) do update
          set holder = excluded.holder, term = l.term + 1, transitions = l.transitions + 1,
              acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
          where l.expires_at <= clock_timestamp()
        returning term`.execute(db);
      const row = result.rows[0];
      return row === undefined ? undefined : { name, holder, term: Number(row.term) };
    },
    async renew(term, leaseMs) {
      const result = await sql`
        update leader_leases
          set renewed_at = clock_timestamp(), expires_at = clock_timestamp() + ${leaseMs} * interval '1 millisecond'
          where name = ${term.name} and holder = ${term.holder} and term = ${term.term} and expires_at > clock_timestamp()
        returning term`.execute(db);
      return result.rows.length === 1;
    },
    async release(term) {
      await sql`
        update leader_leases set expires_at = clock_timestamp()
          where name = ${term.name} and holder = ${term.holder} and term = ${term.term} and expires_at > clock_timestamp()`.execute(db);
    },
    async holds(term) {
      return (await sql`select 1 from leader_leases ${leaseHeldBy(term)}`.execute(db)).rows.length === 1;
    },
  };
}

/**
 * The fence, for a singleton job's own transaction: `select 1 from leader_leases <this> for share`
 * holds the lease row until the transaction ends, so a takeover (an update of that row) waits for
 * the job's commit, and a job whose term has passed finds no row and must write nothing.
 */
export function leaseHeldBy(term: LeaderTerm) {
  return sql`where name = ${term.name} and holder = ${term.holder} and term = ${term.term} and expires_at > clock_timestamp()`;
}
