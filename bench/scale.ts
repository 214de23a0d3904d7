/**
 * jitca on a large store (issue 21). Measures on the empty store, fills it to N certificates and
 * M revocations through the store API (bench/scale-fill.ts), and measures again in the same run:
 *   - in-process issuance: rate and p99 (target: >= 0.9x and <= 1.2x the empty store's);
 *   - the store alone: recordDecision writes/s (5,000, many in flight), where the store's size shows first;
 *   - the KRL build as `jitca bundle --format krl` runs it (target < 0.5 s);
 *   - GET /v1/trust/ssh-krl against `jitca serve` (a separate process): the first (it builds),
 *     then, after 200 warm-up pairs, 2,000 full GETs and If-None-Match 304s from its cache
 *     (target < 5 ms), and its memory;
 *   - bytes per certificate (database and WAL), and `audit verify` records/s.
 * Reports, does not assert.
 *
 * Run: ./scripts/node node bench/scale.ts [--certificates 1000000] [--revocations 100000]
 *        [--live-revocations 1000] [--seconds 10] [--dir os.tmpdir()]
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { initializeCa, openCaRuntime } from '../src/ca-runtime.ts';
import { buildConfig, type JitcaConfig } from '../src/config.ts';
import { sshKrlOf } from '../src/issuance/ssh-krl.ts';
import { decodeKrl } from '../src/ssh/krl.ts';
import { freePort } from '../test/support/sshd.ts';
import { measureInProcessIssuance } from './in-process-issuance.ts';
import { benchPolicy, machineLine, waitUntilReady } from './references.ts';
import { fillStore, fillTemplateFrom } from './scale-fill.ts';

const { values: args } = parseArgs({
  options: {
    certificates: { type: 'string', default: '1000000' },
    revocations: { type: 'string', default: '100000' },
    'live-revocations': { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const certificates = Number(args.certificates);
const revocations = Number(args.revocations);
const liveRevocations = Number(args['live-revocations']);
const seconds = Number(args.seconds);
const KRL_BUILDS = 5;
const GETS = 2000;
/** GETs discarded before measuring, so the tail is the server's steady state, not its JIT warming up. */
const WARMUP_GETS = 200;
const STORE_WRITES = 5000;

interface Phase {
  certificatesInStore: number;
  issuance: { perSecond: number; p99Ms: number; p50Ms: number };
  /** recordDecision alone (no signing), the fill's path: where the size of the store shows first. */
  storeWritesPerSecond: number;
  krlBuildMs: number;
  krlSerials: number;
  firstGetMs: number;
  fullGet: { p50Ms: number; p99Ms: number; bytes: number };
  notModified: { p50Ms: number; p99Ms: number; status: number };
  serverRssMiB: number;
  serverPeakRssMiB: number;
  storeBytes: number;
  auditRecords: number;
  auditVerifyPerSecond: number;
}

const dataDir = mkdtempSync(path.join(args.dir, 'jitca-bench-scale-'));
try {
  writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(benchPolicy));
  const port = await freePort();
  const configFile = path.join(dataDir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ server: { port, logLevel: 'warn' } }));
  const config = buildConfig({ configFile, dataDir });
  await initializeCa(config);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dataDir, 'user')]);
  const publicKey = readFileSync(path.join(dataDir, 'user.pub'), 'utf8').trim();

  console.log(`jitca at scale: ${machineLine()}; store ${config.store.sqlitePath}`);
  const empty = await measurePhase(config, configFile, publicKey, port);
  print('empty', empty);

  const filled = await fill(config);
  console.log(`filled ${certificates} certificates and ${revocations} revocations (${liveRevocations} live) in ${filled.toFixed(1)} s = ${(certificates / filled).toFixed(0)} certificates/s (including revocations)`);
  printPlan(config);
  const large = await measurePhase(config, configFile, publicKey, port);
  print('filled', large);
  compare(empty, large);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

async function fill(config: JitcaConfig): Promise<number> {
  const runtime = await openCaRuntime(config);
  try {
    const template = await fillTemplateFrom(runtime.store);
    const started = performance.now();
    const step = Math.max(1, Math.floor(certificates / 10));
    await fillStore(runtime.store, template, {
      certificates,
      revocations,
      liveRevocations,
      nowMs: Date.now(),
      onProgress: (done, phase) => {
        if (done % step === 0) console.log(`  ${phase}: ${done} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      },
    });
    return (performance.now() - started) / 1000;
  } finally {
    await runtime.close();
  }
}

async function measurePhase(config: JitcaConfig, configFile: string, publicKey: string, port: number): Promise<Phase> {
  const runtime = await openCaRuntime(config);
  let issuance, storeWritesPerSecond, krlBuildMs, krlSerials, auditRecords, auditVerifyPerSecond;
  try {
    // Warm-up, discarded: the first phase would otherwise also measure V8 compiling the pipeline.
    await measureInProcessIssuance(runtime, publicKey, Math.min(2, seconds));
    issuance = await measureInProcessIssuance(runtime, publicKey, seconds);
    const writesStarted = performance.now();
    await fillStore(runtime.store, await fillTemplateFrom(runtime.store), { certificates: STORE_WRITES, revocations: 0, liveRevocations: 0, nowMs: Date.now() });
    storeWritesPerSecond = STORE_WRITES / ((performance.now() - writesStarted) / 1000);
    const builds: number[] = [];
    let krl: Uint8Array = new Uint8Array();
    for (let i = 0; i < KRL_BUILDS; i++) {
      const started = performance.now();
      krl = await sshKrlOf(runtime, Date.now());
      builds.push(performance.now() - started);
    }
    krlBuildMs = median(builds);
    krlSerials = decodeKrl(krl).certificates.reduce((sum, section) => sum + section.serials.length, 0);
    const started = performance.now();
    const verified = await runtime.store.verifyAudit();
    if (!verified.ok) throw new Error(`audit chain broken: ${JSON.stringify(verified.firstBroken)}`);
    auditRecords = verified.records;
    auditVerifyPerSecond = verified.records / ((performance.now() - started) / 1000);
  } finally {
    await runtime.close();
  }
  const storeBytes = fileSize(config.store.sqlitePath) + fileSize(`${config.store.sqlitePath}-wal`);
  const certificatesInStore = countCertificates(config.store.sqlitePath);

  const server = spawn(path.resolve(import.meta.dirname, '../bin/jitca'), ['--config', configFile, '--data-dir', config.dataDir, 'serve'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(url, 30);
    const krlUrl = `${url}/v1/trust/ssh-krl`;
    let started = performance.now();
    const first = await fetch(krlUrl);
    const etag = first.headers.get('etag') ?? '';
    const bytes = (await first.arrayBuffer()).byteLength;
    const firstGetMs = performance.now() - started;
    for (let i = 0; i < WARMUP_GETS; i++) {
      await (await fetch(krlUrl)).arrayBuffer();
      await (await fetch(krlUrl, { headers: { 'if-none-match': etag } })).arrayBuffer();
    }
    const full: number[] = [];
    const conditional: number[] = [];
    let status = 0;
    for (let i = 0; i < GETS; i++) {
      started = performance.now();
      await (await fetch(krlUrl)).arrayBuffer();
      full.push(performance.now() - started);
      started = performance.now();
      const response = await fetch(krlUrl, { headers: { 'if-none-match': etag } });
      await response.arrayBuffer();
      conditional.push(performance.now() - started);
      status = response.status;
    }
    const memory = serverMemory(server);
    return {
      certificatesInStore,
      issuance,
      storeWritesPerSecond,
      krlBuildMs,
      krlSerials,
      firstGetMs,
      fullGet: { p50Ms: median(full), p99Ms: percentile(full, 0.99), bytes },
      notModified: { p50Ms: median(conditional), p99Ms: percentile(conditional, 0.99), status },
      serverRssMiB: memory.rss,
      serverPeakRssMiB: memory.peak,
      storeBytes,
      auditRecords,
      auditVerifyPerSecond,
    };
  } finally {
    await stop(server);
  }
}

function print(label: string, phase: Phase): void {
  console.log(
    `${label}: ${phase.certificatesInStore} certificates, ${(phase.storeBytes / 2 ** 20).toFixed(1)} MiB ` +
      `(${(phase.storeBytes / Math.max(1, phase.certificatesInStore)).toFixed(0)} B/certificate); ` +
      `issuance ${phase.issuance.perSecond.toFixed(0)}/s p50 ${phase.issuance.p50Ms.toFixed(1)} ms p99 ${phase.issuance.p99Ms.toFixed(1)} ms; ` +
      `store writes ${phase.storeWritesPerSecond.toFixed(0)}/s; ` +
      `KRL build ${phase.krlBuildMs.toFixed(1)} ms (${phase.krlSerials} serials); ` +
      `GET ssh-krl first ${phase.firstGetMs.toFixed(1)} ms, then p50 ${phase.fullGet.p50Ms.toFixed(2)} ms p99 ${phase.fullGet.p99Ms.toFixed(2)} ms (${phase.fullGet.bytes} B), ` +
      `If-None-Match ${phase.notModified.status} p50 ${phase.notModified.p50Ms.toFixed(2)} ms p99 ${phase.notModified.p99Ms.toFixed(2)} ms; ` +
      `server RSS ${phase.serverRssMiB.toFixed(0)} MiB (peak ${phase.serverPeakRssMiB.toFixed(0)}); ` +
      `audit verify ${phase.auditRecords} records at ${phase.auditVerifyPerSecond.toFixed(0)}/s`,
  );
}

function compare(empty: Phase, filled: Phase): void {
  const ratio = (a: number, b: number): string => (b === 0 ? 'n/a' : `${(a / b).toFixed(2)}x`);
  const addedBytes = filled.storeBytes - empty.storeBytes;
  const addedCertificates = filled.certificatesInStore - empty.certificatesInStore;
  console.log('filled / empty:');
  console.log(`  issuance rate ${ratio(filled.issuance.perSecond, empty.issuance.perSecond)} (target >= 0.9x), p99 ${ratio(filled.issuance.p99Ms, empty.issuance.p99Ms)} (target <= 1.2x)`);
  console.log(`  store writes (recordDecision alone) ${ratio(filled.storeWritesPerSecond, empty.storeWritesPerSecond)}`);
  console.log(`  KRL build ${filled.krlBuildMs.toFixed(1)} ms vs ${empty.krlBuildMs.toFixed(1)} ms (target < 500 ms)`);
  console.log(`  GET ssh-krl p99 ${filled.fullGet.p99Ms.toFixed(2)} ms vs ${empty.fullGet.p99Ms.toFixed(2)} ms (target < 5 ms); 304 p99 ${filled.notModified.p99Ms.toFixed(2)} ms`);
  console.log(`  server RSS ${filled.serverRssMiB.toFixed(0)} vs ${empty.serverRssMiB.toFixed(0)} MiB`);
  console.log(`  bytes per added certificate ${(addedBytes / Math.max(1, addedCertificates)).toFixed(0)} (revocations and audit records included)`);
  console.log(`  audit verify ${ratio(filled.auditVerifyPerSecond, empty.auditVerifyPerSecond)}`);
}

/** The KRL query's plan on the filled store: a range of the valid_before index, no certificates. */
function printPlan(config: JitcaConfig): void {
  const db = new Database(config.store.sqlitePath, { readonly: true });
  try {
    const plan = db
      .prepare("explain query plan select serial, ca_key_id, valid_before, revoked_at, revoked_by, reason from revocations where valid_before > ?")
      .all(new Date().toISOString()) as Array<{ detail: string }>;
    console.log(`KRL query plan: ${plan.map((row) => row.detail).join('; ')}`);
  } finally {
    db.close();
  }
}

function countCertificates(sqlitePath: string): number {
  const db = new Database(sqlitePath, { readonly: true });
  try {
    return (db.prepare('select count(*) as n from certificates').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function serverMemory(server: ChildProcess): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

async function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
}

function median(values: number[]): number {
  return percentile(values, 0.5);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}
