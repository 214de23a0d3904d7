/**
 * Soak: `jitca serve` (a separate process, real OIDC tokens, SoftHSM2, SQLite) under a mixed load
 * for N minutes: issuance, denials, approvals, rejections, revocations, trust fetches and bad
 * tokens (bench/soak-traffic.ts), at about 70 % of the saturated rate measured first in the same
 * run (or --rate). Every 10 s it samples the server's RSS, heap, event-loop delay, open file
 * descriptors and the SQLite files (bench/soak-samples.ts); at the end it prints each one's
 * least-squares slope after the warm-up and the audit log's growth per request.
 * A leak shows as a slope that does not go to zero as the run gets longer: RSS and descriptors
 * must be flat; the database and the audit log grow by design, linearly with requests.
 *
 * Run: ./scripts/node node bench/soak.ts [--minutes 10] [--rate <operations/s>]
 *        [--saturate-seconds 5] [--warmup-seconds <default: 10 % of the run, at least 30>]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initializeCa } from '../src/ca-runtime.ts';
import { buildConfig } from '../src/config.ts';
import { startOidcProvider } from '../test/support/oidc-provider.ts';
import { freePort } from '../test/support/sshd.ts';
import { benchConnectionLimits, benchPolicy, machineLine, numberOption, waitUntilReady } from './references.ts';
import { auditStats, leastSquares, SAMPLED, takeSample, type Sample } from './soak-samples.ts';
import { createTraffic, measureSaturatedRate, runAtRate, type SoakIdentities } from './soak-traffic.ts';

const minutes = numberOption('minutes', 10);
const saturateSeconds = numberOption('saturate-seconds', 5);
const warmupSeconds = numberOption('warmup-seconds', Math.max(30, minutes * 6));
const fixedRate = process.argv.includes('--rate') ? numberOption('rate', 1) : undefined;
const SAMPLE_EVERY_MS = 10_000;
const audience = 'urn:jitca:api';
const root = path.resolve(import.meta.dirname, '..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-soak-'));

const soakPolicy = {
  ...benchPolicy,
  revokerGroups: ['sre-leads'],
  roles: [
    ...benchPolicy.roles,
    {
      name: 'break-glass',
      groups: ['sre'],
      principals: ['root-debug'],
      maxTtlSeconds: 900,
      scope: { clusters: ['prod'], namespaces: ['*'] },
      extensions: ['permit-pty'],
      approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 1 },
    },
  ],
};
const names = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
const people = { engineers: names('eng', 16), requesters: names('sre', 8), leads: names('lead', 4), outsider: 'intern' };
const accounts = {
  ...Object.fromEntries(people.engineers.map((name) => [name, { groups: ['oncall-payments'] }])),
  ...Object.fromEntries(people.requesters.map((name) => [name, { groups: ['sre'] }])),
  ...Object.fromEntries(people.leads.map((name) => [name, { groups: ['sre-leads'] }])),
  intern: { groups: ['interns'] },
};

const oidc = await startOidcProvider({ accounts, audience });
let server: ReturnType<typeof spawn> | undefined;
try {
  writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(soakPolicy));
  const port = await freePort();
  const configFile = path.join(dataDir, 'config.json');
  // The load generator is one loopback address standing in for many clients: its bad tokens would
  // otherwise trip the per-address limit on failed authentication and get every request after
  // them refused 429, and the soak must exercise the verifier, not that limit's refusal.
  const serverSettings = { port, rateLimitPerMinute: 1_000_000, logLevel: 'warn', authFailuresExemptLoopback: true, ...benchConnectionLimits };
  writeFileSync(configFile, JSON.stringify({ oidc: { issuer: oidc.issuer, audience, jwksUri: oidc.jwksUri }, server: serverSettings }));
  const config = buildConfig({ configFile, dataDir });
  await initializeCa(config);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dataDir, 'user')]);
  const publicKey = readFileSync(path.join(dataDir, 'user.pub'), 'utf8').trim();

  const lifetime = { expiresInSeconds: Math.ceil(minutes * 60 + saturateSeconds + 600) };
  const tokensOf = (list: string[]) => Promise.all(list.map((name) => oidc.tokenFor(name, lifetime)));
  const tokens: SoakIdentities = {
    engineers: await tokensOf(people.engineers),
    requesters: await tokensOf(people.requesters),
    leads: await tokensOf(people.leads),
    outsider: await oidc.tokenFor(people.outsider, lifetime),
  };

  server = spawn(path.join(root, 'bin/jitca'), ['--config', configFile, '--data-dir', dataDir, 'serve'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = server.pid!;
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(url, 20);
  const target = { url, publicKey, tokens };

  await measureSaturatedRate(target, 2, 16); // warm-up: JIT, JWKS cache, SQLite pages
  const saturated = await measureSaturatedRate(target, saturateSeconds, 16);
  const rate = fixedRate ?? Math.max(1, saturated.operationsPerSecond * 0.7);

  const traffic = createTraffic(target);
  const samples: Sample[] = [];
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const auditBefore = auditStats(config.store.sqlitePath, true);
  const storeBytes = (): number => ['', '-wal'].reduce((sum, suffix) => sum + (statSync(`${config.store.sqlitePath}${suffix}`, { throwIfNoEntry: false })?.size ?? 0), 0);
  const storeBefore = storeBytes();
  let sampling: Promise<void> | undefined;
  const sample = (): Promise<void> =>
    (sampling ??= takeSample(elapsed(), pid, url, config.store.sqlitePath)
      .then(
        (taken) => void samples.push(taken),
        (error: unknown) => void process.stderr.write(`sample failed: ${String(error)}\n`),
      )
      .finally(() => (sampling = undefined)));
  await sample();
  const sampler = setInterval(() => void sample(), SAMPLE_EVERY_MS);
  let late = 0;
  try {
    ({ late } = await runAtRate(traffic, rate, minutes * 60));
  } finally {
    clearInterval(sampler);
  }
  // A last sample, unless the interval's took one a moment ago (two at one time would weigh double).
  await sampling;
  if (elapsed() - (samples.at(-1)?.at ?? 0) > SAMPLE_EVERY_MS / 2000) await sample();
  const seconds = elapsed();
  const auditAfter = auditStats(config.store.sqlitePath, true);
  const storeAfter = storeBytes();
  const { counts } = traffic;

  console.log(machineLine());
  console.log(`saturated (16 loops, ${saturateSeconds} s): ${saturated.operationsPerSecond.toFixed(0)} operations/s, ${saturated.requestsPerSecond.toFixed(0)} requests/s`);
  console.log(
    `soak: ${minutes} min at ${rate.toFixed(0)} operations/s (${fixedRate === undefined ? '70 % of saturated' : '--rate'}): ${counts.operations} operations, ${counts.requests} requests (${(counts.requests / seconds).toFixed(0)}/s), ${late} started late`,
  );
  console.log(`mix: ${[...counts.byOperation].map(([name, n]) => `${name} ${n}`).join(', ')}`);
  const unexpected = [...counts.unexpected].map(([key, n]) => `${key}: ${n}`);
  console.log(`unexpected statuses: ${unexpected.length === 0 ? 'none' : unexpected.join(', ')}`);
  console.log('samples (s: RSS MiB, heap MiB, store thread heap MiB, loop p99 ms, fds, non-socket fds, db MiB, wal MiB, audit records):');
  for (const s of samples) {
    console.log(
      `  ${s.at.toFixed(0)}: ${s.rssMiB.toFixed(1)}, ${s.heapUsedMiB.toFixed(1)}, ${s.storeThreadHeapMiB.toFixed(1)}, ${s.eventLoopP99Ms.toFixed(1)}, ${s.openFds}, ${s.nonSocketFds}, ${s.dbMiB.toFixed(2)}, ${s.walMiB.toFixed(2)}, ${s.auditRecords}`,
    );
  }
  const steady = samples.filter((s) => s.at >= warmupSeconds);
  console.log(`slopes after ${warmupSeconds} s of warm-up (least squares over ${steady.length} samples):`);
  for (const [field, label] of SAMPLED) {
    if (steady.length < 3) break;
    const { slope, mean } = leastSquares(steady.map((s) => [s.at / 60, s[field]]));
    const span = (steady.at(-1)!.at - steady[0]!.at) / 60;
    console.log(`  ${label}: ${slope.toFixed(3)} per minute (mean ${mean.toFixed(2)}; ${((slope * span * 100) / Math.abs(mean || 1)).toFixed(1)} % of the mean over the steady phase)`);
  }
  if (steady.length < 3) console.log('  (too few samples after the warm-up for a slope: run longer or lower --warmup-seconds)');
  const requests = Math.max(1, counts.requests);
  console.log(
    `audit growth: ${((auditAfter.records - auditBefore.records) / requests).toFixed(3)} records and ${((auditAfter.bytes - auditBefore.bytes) / requests).toFixed(0)} bytes of record per request; store files (db + wal) ${((storeAfter - storeBefore) / requests).toFixed(0)} bytes per request`,
  );
} finally {
  if (server !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
  await oidc.close();
  rmSync(dataDir, { recursive: true, force: true });
}
