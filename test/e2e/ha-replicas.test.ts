/**
 * Three `jitca serve` processes (real processes) on one PostgreSQL: exactly one runs the singleton
 * jobs; killed, another takes over within one lease; paused past its lease (SIGSTOP), it is
 * replaced and, resumed, finds it no longer leads. Leadership read from each replica's /metrics,
 * every change from the audit log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializeCa } from '../../src/ca-runtime.ts';
import { buildConfig } from '../../src/config.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { startPostgres, type PostgresCluster } from '../support/postgres.ts';
import { freePort } from '../support/sshd.ts';

const JITCA = path.resolve(import.meta.dirname, '../../bin/jitca');
const LEASE_MS = 3000;
const TIMING = { leaderLeaseMs: LEASE_MS, leaderRenewDeadlineMs: 2000, leaderRetryMs: 300 };

interface Replica {
  port: number;
  child: ChildProcess;
}

let cluster: PostgresCluster;
let url: string;
let dataDir: string;
let configFile: string;
const replicas: Replica[] = [];

async function startReplica(): Promise<Replica> {
  const port = await freePort();
  const child = spawn(JITCA, ['--config', configFile, '--data-dir', dataDir, 'serve', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let attempt = 0; attempt < 300; attempt++) {
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((response) => response.ok, () => false)) return { port, child };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL'); // not left running after the test gives up on it
  throw new Error(`replica on ${port} did not become ready: ${stderr}`);
}

/** 1 or 0 from jitca_leader, or undefined when the replica does not answer (killed, stopped). */
async function leading(replica: Replica): Promise<number | undefined> {
  const text = await fetch(`http://127.0.0.1:${replica.port}/metrics`, { signal: AbortSignal.timeout(500) }).then((response) => response.text(), () => undefined);
  const match = text?.match(/^jitca_leader\{mode="elected"\} (\d)$/m);
  return match === null || match === undefined ? undefined : Number(match[1]);
}

async function leaders(candidates: readonly Replica[]): Promise<Replica[]> {
  const states = await Promise.all(candidates.map(leading));
  return candidates.filter((_, i) => states[i] === 1);
}

async function untilOneLeader(candidates: readonly Replica[], withinMs: number): Promise<Replica> {
  const end = Date.now() + withinMs;
  for (;;) {
    const now = await leaders(candidates);
    if (now.length === 1) return now[0]!;
    if (Date.now() > end) throw new Error(`${now.length} leaders after ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function leaderRecords(): Promise<Array<{ term: number; leading: boolean; holder: string; reason: string }>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query<{ data: string }>("select data from audit_log where type = 'ha.leader' order by seq");
    return rows.rows.map((row) => JSON.parse(row.data) as { term: number; leading: boolean; holder: string; reason: string });
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  cluster = await startPostgres();
  url = cluster.createDatabase('jitca_ha_replicas');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitca-ha-'));
  fs.writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(testPolicy));
  configFile = path.join(dataDir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({ store: { postgresUrl: url, ...TIMING }, server: { logLevel: 'warn' } }));
  await initializeCa(buildConfig({ configFile, dataDir }));
  // One after another: SoftHSM2's file token is read at each start, and a start racing another's
  // token writes once found "no initialized tokens".
  for (let i = 0; i < 3; i++) replicas.push(await startReplica());
}, 120_000);

afterAll(async () => {
  for (const { child } of replicas) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  cluster?.stop();
  if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
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
});
