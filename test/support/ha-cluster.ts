/**
 * Real `jitca serve` processes on one PostgreSQL database, as issue 17's tests and
 * bench/ha-replicas.ts run them: start, read leadership from /metrics, wait for one leader, and
 * issue through them with a client that fails over the way a Service in front of them would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initializeCa } from '../../src/ca-runtime.ts';
import { buildConfig } from '../../src/config.ts';
import { freePort } from './sshd.ts';

const JITCA = path.resolve(import.meta.dirname, '../../bin/jitca');

export interface Replica {
  port: number;
  child: ChildProcess;
}

export interface HaDataDir {
  dataDir: string;
  configFile: string;
  remove(): void;
}

/** A data dir whose config puts every replica on `postgresUrl`, with its CA initialized once. */
export async function createHaDataDir(options: { postgresUrl: string; policy: unknown; config?: Record<string, unknown>; store?: Record<string, unknown> }): Promise<HaDataDir> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitca-ha-'));
  fs.writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(options.policy));
  const configFile = path.join(dataDir, 'config.json');
  const { server, ...rest } = (options.config ?? {}) as { server?: Record<string, unknown> };
  fs.writeFileSync(configFile, JSON.stringify({ ...rest, store: { postgresUrl: options.postgresUrl, ...options.store }, server: { logLevel: 'warn', ...server } }));
  await initializeCa(buildConfig({ configFile, dataDir }));
  return { dataDir, configFile, remove: () => fs.rmSync(dataDir, { recursive: true, force: true }) };
}

/**
 * Starts one replica and waits for /readyz. Start them one after another: SoftHSM2's file token is
 * read at each start, and a start racing another's token writes once found "no initialized tokens".
 */
export async function startReplica(data: HaDataDir): Promise<Replica> {
  const port = await freePort();
  const child = spawn(JITCA, ['--config', data.configFile, '--data-dir', data.dataDir, 'serve', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let attempt = 0; attempt < 300; attempt++) {
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((response) => response.ok, () => false)) return { port, child };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL'); // not left running after the caller gives up on it
  throw new Error(`replica on ${port} did not become ready: ${stderr}`);
}

export function isRunning(replica: Replica): boolean {
  return replica.child.exitCode === null && replica.child.signalCode === null;
}

/** Resolves when the replica's process has ended. */
export function exited(replica: Replica): Promise<void> {
  return isRunning(replica) ? new Promise((resolve) => replica.child.once('exit', () => resolve())) : Promise.resolve();
}

/** 1 or 0 from jitca_leader, or undefined when the replica does not answer (killed, stopped). */
export async function leading(replica: Replica): Promise<number | undefined> {
  const text = await fetch(`http://127.0.0.1:${replica.port}/metrics`, { signal: AbortSignal.timeout(500) }).then((response) => response.text(), () => undefined);
  const match = text?.match(/^jitca_leader\{mode="elected"\} (\d)$/m);
  return match === null || match === undefined ? undefined : Number(match[1]);
}

export async function leaders(candidates: readonly Replica[]): Promise<Replica[]> {
  const states = await Promise.all(candidates.map(leading));
  return candidates.filter((_, i) => states[i] === 1);
}

export async function untilOneLeader(candidates: readonly Replica[], withinMs: number, pollMs = 100): Promise<Replica> {
  const end = Date.now() + withinMs;
  for (;;) {
    const now = await leaders(candidates);
    if (now.length === 1) return now[0]!;
    if (Date.now() > end) throw new Error(`${now.length} leaders after ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** What a stream of issuance requests through the replicas got. */
export interface IssuanceTally {
  /** Serials of the certificates issued (201), in the order the answers came. */
  serials: string[];
  /** Answers that a client retries on another replica: 503, and a connection refused or reset. */
  retried: { status503: number; connection: number };
  /** Anything else (a 4xx, a 500, a 201 without a serial): each one is a failure. */
  failures: string[];
  latenciesMs: number[];
}

export interface IssuanceStream {
  replicas: () => readonly Replica[];
  token: string;
  body: Record<string, unknown>;
  /** Requests in all; bounded, whatever happens to the replicas. */
  count: number;
  concurrency: number;
  /** Tries per request across replicas before it counts as a failure. */
  maxTries?: number;
  /** No request starts after this (performance.now()); a bench's phase length. */
  untilMs?: number;
  /** Called after each answered request with how many are done (for a fault mid-stream). */
  onProgress?: (done: number) => void;
}

/**
 * Issues `count` SSH certificates through the replicas, round robin, `concurrency` at a time. A 503
 * or a connection that fails goes to the next replica, as a Service would send the retry; those
 * are counted, not failures. Latency is per request, from its first try to its answer.
 */
export async function issueThroughReplicas(stream: IssuanceStream): Promise<IssuanceTally> {
  const tally: IssuanceTally = { serials: [], retried: { status503: 0, connection: 0 }, failures: [], latenciesMs: [] };
  const maxTries = stream.maxTries ?? 6;
  let next = 0;
  let started = 0;
  let done = 0;
  const one = async (): Promise<void> => {
    const began = performance.now();
    for (let attempt = 1; ; attempt++) {
      const live = stream.replicas().filter(isRunning);
      const replica = live[next++ % Math.max(1, live.length)];
      if (replica === undefined) {
        tally.failures.push('no replica running');
        return;
      }
      let status: number | undefined;
      let reply: { serial?: string; code?: string } | undefined;
      try {
        const response = await fetch(`http://127.0.0.1:${replica.port}/v1/ssh/certificates`, {
          method: 'POST',
          headers: { authorization: `Bearer ${stream.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(stream.body),
          signal: AbortSignal.timeout(10_000),
        });
        status = response.status;
        reply = (await response.json()) as { serial?: string; code?: string };
      } catch {
        status = undefined;
      }
      if (status === 201 && typeof reply?.serial === 'string') {
        tally.serials.push(reply.serial);
        tally.latenciesMs.push(performance.now() - began);
        return;
      }
      if (status === undefined) tally.retried.connection += 1;
      else if (status === 503) tally.retried.status503 += 1;
      else {
        tally.failures.push(`${status} ${reply?.code ?? ''}`);
        return;
      }
      if (attempt >= maxTries) {
        tally.failures.push(`gave up after ${maxTries} tries`);
        return;
      }
    }
  };
  const worker = async (): Promise<void> => {
    while (started < stream.count && (stream.untilMs === undefined || performance.now() < stream.untilMs)) {
      started += 1;
      await one();
      done += 1;
      stream.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: stream.concurrency }, worker));
  return tally;
}
