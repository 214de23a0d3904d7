/**
 * Three `jitca serve` processes (real processes) on one PostgreSQL: exactly one runs the singleton
 * jobs; killed, another takes over within one lease; paused past its lease (SIGSTOP), it is
 * replaced and, resumed, finds it no longer leads. Then issuance through all three while the
 * leader is killed and its successor stopped gracefully: nothing fails beyond what a client
 * retries on another replica, every certificate has its audit record, the chain verifies.
 * Leadership read from each replica's /metrics, every change from the audit log.
 */
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPolicy } from '../support/ca-fixture.ts';
import { createHaDataDir, exited, isRunning, issueThroughReplicas, leaders, startReplica, untilOneLeader, type HaDataDir, type Replica } from '../support/ha-cluster.ts';
import { startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';
import { startPostgres, type PostgresCluster } from '../support/postgres.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const JITCA = new URL('../../bin/jitca', import.meta.url).pathname;
const LEASE_MS = 3000;
const TIMING = { leaderLeaseMs: LEASE_MS, leaderRenewDeadlineMs: 2000, leaderRetryMs: 300 };
const AUDIENCE = 'urn:jitca:api';

let cluster: PostgresCluster;
let url: string;
let data: HaDataDir;
let oidc: OidcTestProvider;
let key: TempSshKey;
const replicas: Replica[] = [];

async function query<Row extends Record<string, unknown>>(text: string, values: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function leaderRecords(): Promise<Array<{ term: number; leading: boolean; holder: string; reason: string }>> {
  const rows = await query<{ data: string }>("select data from audit_log where type = 'ha.leader' order by seq");
  return rows.map((row) => JSON.parse(row.data) as { term: number; leading: boolean; holder: string; reason: string });
}

beforeAll(async () => {
  cluster = await startPostgres();
  url = cluster.createDatabase('jitca_ha_replicas');
  oidc = await startOidcProvider({ accounts: { alice: { groups: ['oncall-payments'] } }, audience: AUDIENCE });
  key = createTempSshKey('jitca-ha-');
  data = await createHaDataDir({
    postgresUrl: url,
    policy: testPolicy,
    store: TIMING,
    config: { oidc: { issuer: oidc.issuer, audience: AUDIENCE, jwksUri: oidc.jwksUri }, server: { rateLimitPerMinute: 1_000_000 } },
  });
  for (let i = 0; i < 3; i++) replicas.push(await startReplica(data));
}, 120_000);

afterAll(async () => {
  for (const { child } of replicas) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await oidc?.close();
  key?.cleanup();
  cluster?.stop();
  data?.remove();
});

describe('three replicas on one PostgreSQL', () => {
  it('one leads; killed, another takes over within a lease; paused past its lease, it is replaced and steps down when resumed', async () => {
    const first = await untilOneLeader(replicas, LEASE_MS * 2);
    // Still exactly one a few retries later.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await leaders(replicas)).toEqual([first]);

    first.child.kill('SIGKILL');
    const killedAt = Date.now();
    const survivors = replicas.filter((replica) => replica !== first);
    const second = await untilOneLeader(survivors, LEASE_MS + 3000);
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(LEASE_MS + 3000);

    second.child.kill('SIGSTOP');
    const third = await untilOneLeader(survivors.filter((replica) => replica !== second), LEASE_MS + 3000);
    second.child.kill('SIGCONT');
    // Resumed, the former leader finds its term gone: still exactly one leader, the third.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await leaders(survivors)).toEqual([third]);

    const records = await leaderRecords();
    const started = records.filter((record) => record.leading);
    // Each term started once. Not necessarily in this order in the log: a leader stopped before its
    // own "leading" record committed writes it when it runs again, after its successor's.
    expect(started.map((record) => record.term).sort()).toEqual([1, 2, 3]);
    expect(new Set(started.map((record) => record.holder)).size).toBe(3);
    // The paused one recorded its own end once it ran again; the killed one never could.
    expect(records.filter((record) => !record.leading).map((record) => record.term)).toEqual([2]);
    console.log(`takeover after SIGKILL: ${takeoverMs} ms (lease ${LEASE_MS} ms)`);
  });

  it('issues through all three while the leader is killed and its successor stopped: only retryable answers, every certificate audited, the chain intact', async () => {
    // Three running again: the first test killed one.
    while (replicas.filter(isRunning).length < 3) replicas.push(await startReplica(data));
    const running = () => replicas.filter(isRunning);
    const termsBefore = (await leaderRecords()).filter((record) => record.leading).length;
    const token = await oidc.tokenFor('alice');
    const COUNT = 240;
    let faults: Promise<void> = Promise.resolve();
    const onProgress = (done: number): void => {
      // A third of the way: the leader dies (SIGKILL). Two thirds: the new leader is stopped
      // gracefully (SIGTERM, the Lease released) while requests are in flight on it.
      if (done === COUNT / 3 || done === (2 * COUNT) / 3) {
        const signal = done === COUNT / 3 ? 'SIGKILL' : 'SIGTERM';
        faults = faults.then(async () => {
          const leader = await untilOneLeader(running(), LEASE_MS + 3000);
          leader.child.kill(signal);
          await exited(leader);
        });
      }
    };
    const tally = await issueThroughReplicas({
      replicas: () => replicas,
      token,
      body: { publicKey: key.publicKey, role: 'oncall-payments', reason: 'INC-17' },
      count: COUNT,
      concurrency: 6,
      onProgress,
    });
    await faults;
    console.log(`issuance during two leader changes: ${tally.serials.length} issued, retried ${tally.retried.status503} x 503 and ${tally.retried.connection} x connection`);
    expect(tally.failures).toEqual([]);
    expect(tally.serials).toHaveLength(COUNT);
    expect(new Set(tally.serials).size).toBe(COUNT);

    // A leader again among the one still running, two terms later.
    const last = await untilOneLeader(running(), LEASE_MS + 3000);
    expect(running()).toEqual([last]);
    expect((await leaderRecords()).filter((record) => record.leading).length).toBe(termsBefore + 2);

    // Every answered certificate is stored with its audit record; and no stored certificate at all
    // (a killed replica's last commits included, whose answers were lost) lacks one.
    const stored = await query<{ serial: string }>('select serial from certificates where serial = any($1)', [tally.serials]);
    expect(stored).toHaveLength(COUNT);
    const unaudited = await query<{ serial: string }>(
      "select c.serial from certificates c where not exists (select 1 from audit_log a where a.type = 'ssh.issued' and a.data::jsonb ->> 'serial' = c.serial)",
    );
    expect(unaudited).toEqual([]);
    // The chain, as an operator checks it, with a process of its own.
    const verified = execFileSync(JITCA, ['--config', data.configFile, '--data-dir', data.dataDir, 'audit', 'verify'], { encoding: 'utf8' });
    expect(verified).toMatch(/^audit: \d+ records, chain intact$/m);
    expect(Number(/(\d+) records/.exec(verified)?.[1])).toBeGreaterThan(COUNT);
  });
});
