/**
 * Leader election on a real PostgreSQL (test/support/postgres.ts): three electors on one database
 * as three replicas would run them, the lease judged by the database's clock, the fence refusing a
 * former leader, and a leader cut off from the database stopping by its renew deadline.
 */
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeaderElector, type LeaderElector } from '../../src/ha/leader-elector.ts';
import { checkLeaderTiming } from '../../src/ha/leader-timing.ts';
import type { LeaderTerm } from '../../src/ha/lease.ts';
import { leaseHeldBy, postgresLeaseBackend } from '../../src/ha/postgres-lease.ts';
import { migrateToLatest } from '../../src/store/migrations.ts';
import { openPostgresDatabase } from '../../src/store/postgres-database.ts';
import type { DatabaseSchema } from '../../src/store/schema.ts';
import { codeOf } from '../support/error-codes.ts';
import { startPostgres, type PostgresCluster } from '../support/postgres.ts';

// Short enough for a quick test, long enough that a loaded CI machine's event-loop stalls do not
// cost a leader its renew deadline.
const TIMING = { leaseMs: 2400, renewDeadlineMs: 1600, retryMs: 300 };
const LEASE = 'jitca-singletons';

let cluster: PostgresCluster;
let db: Kysely<DatabaseSchema>;
let nextDatabase = 0;

beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => {
  await db?.destroy();
  cluster?.stop();
});

async function freshDatabase(): Promise<Kysely<DatabaseSchema>> {
  nextDatabase += 1;
  const opened = openPostgresDatabase(cluster.createDatabase(`jitca_ha_${nextDatabase}`), { connectionTimeoutMs: 500 });
  await migrateToLatest(opened);
  return opened;
}

interface Replica {
  name: string;
  elector: LeaderElector;
  events: string[];
}

function replicas(database: Kysely<DatabaseSchema>, count: number): Replica[] {
  return Array.from({ length: count }, (_, i) => {
    const events: string[] = [];
    const name = `replica-${i}`;
    const elector = createLeaderElector({
      backend: postgresLeaseBackend(database),
      name: LEASE,
      holder: name,
      timing: TIMING,
      onStartedLeading: (term) => events.push(`lead ${term.term}`),
      onStoppedLeading: (term, reason) => events.push(`stop ${term.term} ${reason}`),
      onError: () => events.push('error'),
    });
    return { name, elector, events };
  });
}

/** Waits (bounded) until check() is true, polling every 50 ms. */
async function until(check: () => boolean, withinMs: number): Promise<void> {
  const end = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const leaders = (group: Replica[]): Replica[] => group.filter((replica) => replica.elector.term !== undefined);

describe('leader election on PostgreSQL', () => {
  it('elects exactly one of three; a released lease passes at the next retry with a higher term', async () => {
    db = await freshDatabase();
    const group = replicas(db, 3);
    for (const replica of group) replica.elector.start();
    await until(() => leaders(group).length === 1, 3000);
    // Several retry rounds later there is still exactly one.
    await new Promise((resolve) => setTimeout(resolve, 3 * TIMING.retryMs));
    expect(leaders(group)).toHaveLength(1);
    const [first] = leaders(group);
    const firstTerm = first!.elector.term!;

    await first!.elector.stop();
    expect(first!.events.at(-1)).toBe(`stop ${firstTerm.term} released`);
    const rest = group.filter((replica) => replica !== first);
    await until(() => leaders(rest).length === 1, 1000);
    expect(leaders(rest)[0]!.elector.term!.term).toBe(firstTerm.term + 1);
    for (const replica of rest) await replica.elector.stop();
  });

  it('a leader that stops renewing (killed, paused) is replaced after its lease, by the database clock, and is fenced from then on', async () => {
    const database = await freshDatabase();
    try {
      const backend = postgresLeaseBackend(database);
      const former = await backend.tryAcquire(LEASE, 'paused-replica', TIMING.leaseMs);
      expect(former).toEqual({ name: LEASE, holder: 'paused-replica', term: 1 });
      const group = replicas(database, 2);
      for (const replica of group) replica.elector.start();
      const started = Date.now();
      await until(() => leaders(group).length === 1, TIMING.leaseMs + 1000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(TIMING.leaseMs - 2 * TIMING.retryMs);
      expect(leaders(group)[0]!.elector.term!.term).toBe(2);

      // The former leader wakes up: it can neither renew nor pass the fence its writes check.
      expect(await backend.renew(former!, TIMING.leaseMs)).toBe(false);
      expect(await backend.holds(former!)).toBe(false);
      expect(await fencedWrite(database, former!)).toBe('fenced');
      expect(await fencedWrite(database, leaders(group)[0]!.elector.term!)).toBe('written');
      for (const replica of group) await replica.elector.stop();
    } finally {
      await database.destroy();
    }
  });

  it('a leader cut off from the database stops leading by its renew deadline, before anyone else could start', async () => {
    const database = await freshDatabase();
    const [only] = replicas(database, 1);
    only!.elector.start();
    await until(() => only!.elector.term !== undefined, 2000);
    cluster.stopServer();
    try {
      const cut = Date.now();
      await until(() => only!.events.some((event) => event.endsWith('renew-deadline')), TIMING.leaseMs);
      expect(Date.now() - cut).toBeLessThan(TIMING.leaseMs);
      expect(only!.elector.term).toBeUndefined();
    } finally {
      cluster.startServer();
    }
    // Back on the database it leads again, under a new term once its old lease has expired.
    await until(() => only!.elector.term !== undefined, TIMING.leaseMs + 5000);
    expect(only!.elector.term!.term).toBe(2);
    await only!.elector.stop();
    await database.destroy();
  });

  it('refuses timings where a leader could outlive its lease (client-go: lease > renew deadline > 1.2 × retry)', () => {
    expect(checkLeaderTiming({ leaseMs: 15_000, renewDeadlineMs: 10_000, retryMs: 2_000 })).toBeDefined();
    for (const timing of [
      { leaseMs: 10_000, renewDeadlineMs: 10_000, retryMs: 2_000 },
      { leaseMs: 15_000, renewDeadlineMs: 2_400, retryMs: 2_000 },
      { leaseMs: 15_000, renewDeadlineMs: 10_000, retryMs: 0 },
      { leaseMs: 1.5, renewDeadlineMs: 1, retryMs: 0.5 },
    ]) {
      expect(codeOf(() => checkLeaderTiming(timing))).toBe('ERR_CONFIG_INVALID');
    }
  });
});

/**
 * A singleton job's write in the shape the fence asks for: the lease row read FOR SHARE in the
 * job's own transaction, the write only when this term still holds it.
 */
async function fencedWrite(database: Kysely<DatabaseSchema>, term: LeaderTerm): Promise<'written' | 'fenced'> {
  return database.transaction().execute(async (tx) => {
    const held = await sql`select 1 from leader_leases ${leaseHeldBy(term)} for share`.execute(tx);
    if (held.rows.length !== 1) return 'fenced';
    await sql`insert into write_probe (id) values (${term.term})`.execute(tx);
    return 'written';
  });
}
