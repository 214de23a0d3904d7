/**
 * The certificate API under load, next to its references measured in the same run:
 *   - raw PKCS#11 Ed25519 signatures/s on the CA's token (the ceiling of issuance);
 *   - `ssh-keygen -s` in a shell loop;
 *   - POST /v1/ssh/certificates against `jitca serve` (a separate process: real OIDC access tokens
 *     from an in-process OpenID provider verified with jose, policy, HSM Ed25519, durable audit),
 *     driven by autocannon in this process — the load generator shares the machine's cores.
 *   - in-process issuance (the same pipeline with no HTTP and no token check): the ceiling of the API;
 *   - CPU per request and thread (server and load generator), from /proc, over the saturated phase;
 *   - latency under an open-loop load (bench/open-loop.ts) at 2,000 req/s (the target), 1,000 and 500.
 * Targets (issue 3): >= 20x the ssh-keygen rate; p99 <= 10 ms at 2,000 requests/s.
 *
 * Run: ./scripts/node node bench/api.ts [seconds]
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { buildConfig } from '../src/config.ts';
import { initializeCa, measureRawSignRate, openCaRuntime } from '../src/ca-runtime.ts';
import { startOidcProvider } from '../test/support/oidc-provider.ts';
import { freePort } from '../test/support/sshd.ts';
import { measureInProcessIssuance } from './in-process-issuance.ts';
import { benchConnectionLimits, benchPolicy, machineLine, measureSshKeygenLoop } from './references.ts';
import { runOpenLoop } from './open-loop.ts';
import { cpuPerOperation, threadCpu } from './thread-cpu.ts';
import { entriesPerCommit, storeCommits } from './store-commits.ts';

const seconds = Number(process.argv[2] ?? 10);
const engineers = 16;
const audience = 'urn:jitca:api';
const root = path.resolve(import.meta.dirname, '..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-bench-api-'));

const accounts = Object.fromEntries(Array.from({ length: engineers }, (_, i) => [`eng${i}`, { groups: ['oncall-payments'] }]));
const oidc = await startOidcProvider({ accounts, audience });
let server: ReturnType<typeof spawn> | undefined;
try {
  writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(benchPolicy));
  const port = await freePort();
  const configFile = path.join(dataDir, 'config.json');
  // Per-request info logs are the production default; the bench logs warnings only and says so.
  writeFileSync(
    configFile,
    JSON.stringify({ oidc: { issuer: oidc.issuer, audience, jwksUri: oidc.jwksUri }, server: { port, rateLimitPerMinute: 1_000_000, logLevel: 'warn', ...benchConnectionLimits } }),
  );
  const config = buildConfig({ configFile, dataDir });
  await initializeCa(config);

  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dataDir, 'user')]);
  const publicKey = readFileSync(path.join(dataDir, 'user.pub'), 'utf8').trim();

  // The ceilings, on the same token and store, before the server starts: raw PKCS#11 signing, and
  // the issuance pipeline the API wraps, called in-process.
  const runtime = await openCaRuntime(config);
  let raw, inProcess;
  try {
    raw = await measureRawSignRate(runtime, Math.min(seconds, 5));
    inProcess = await measureInProcessIssuance(runtime, publicKey, Math.min(seconds, 5));
  } finally {
    await runtime.close();
  }

  const tokens = await Promise.all(Object.keys(accounts).map((name) => oidc.tokenFor(name, { expiresInSeconds: 3600 })));
  const body = JSON.stringify({ publicKey, ttl: '10m', reason: 'bench' });

  server = spawn(path.join(root, 'bin/jitca'), ['--config', configFile, '--data-dir', dataDir, 'serve'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok).catch(() => false);
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  let next = 0;
  const load = (options: Partial<autocannon.Options>) =>
    autocannon({
      url: `${url}/v1/ssh/certificates`,
      method: 'POST',
      connections: 32,
      duration: seconds,
      headers: { 'content-type': 'application/json' },
      requests: [
        {
          setupRequest: (request) => ({ ...request, body, headers: { ...request.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` } }),
        },
      ],
      ...options,
    });

  await load({ duration: 2 }); // warm-up: JIT, JWKS cache, SQLite pages
  const serverCpuBefore = threadCpu(server.pid!);
  const benchCpuBefore = threadCpu(process.pid);
  const commitsBefore = await storeCommits(url);
  const saturated = await load({});
  const commitsAfter = await storeCommits(url);
  const serverCpu = cpuPerOperation(serverCpuBefore, threadCpu(server.pid!), saturated['2xx']);
  const benchCpu = cpuPerOperation(benchCpuBefore, threadCpu(process.pid), saturated['2xx']);
  // Latency at a given rate: open loop, evenly spaced, measured from when each request was due
  // (bench/open-loop.ts; autocannon's overallRate sends each second's quota in bursts).
  const paced = [];
  for (const rate of [2000, 1000, 500]) {
    paced.push(
      await runOpenLoop({
        url: `${url}/v1/ssh/certificates`,
        rate,
        seconds,
        body,
        headers: (index) => ({ authorization: `Bearer ${tokens[index % tokens.length]}` }),
      }),
    );
  }
  const sshKeygen = measureSshKeygenLoop(dataDir, Math.min(seconds, 5));

  const ok = (result: autocannon.Result) => result['2xx'];
  const rate = ok(saturated) / saturated.duration;
  console.log(machineLine());
  console.log(`raw PKCS#11 Ed25519 sign (SoftHSM2, ${raw.sessions} sessions): ${raw.perSecond.toFixed(0)}/s`);
  console.log(`in-process issuance (no HTTP, no token check, ${inProcess.concurrency} in flight): ${inProcess.perSecond.toFixed(0)}/s (${inProcess.commits} commits)`);
  console.log(`ssh-keygen -s loop: ${sshKeygen.perSecond.toFixed(0)}/s (${sshKeygen.count} certificates)`);
  console.log(
    `API saturated (autocannon, 32 connections): ${rate.toFixed(0)} certificates/s, p50 ${saturated.latency.p50} ms, p99 ${saturated.latency.p99} ms, non-2xx ${saturated.non2xx}, errors ${saturated.errors}`,
  );
  for (const run of paced) {
    console.log(
      `API open loop at ${run.rate} req/s: ${(run.ok / run.seconds).toFixed(0)} certificates/s, p50 ${run.p50.toFixed(1)} ms, p90 ${run.p90.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms, max ${run.max.toFixed(0)} ms, failed ${run.failed}, late starts ${run.late}`,
    );
  }
  console.log(`CPU per certificate, saturated, server threads (µs): ${serverCpu}`);
  console.log(`store group commit, saturated: ${entriesPerCommit(commitsBefore, commitsAfter)}`);
  console.log(`CPU per certificate, saturated, load generator threads (µs): ${benchCpu}`);
  console.log(`ratio API / ssh-keygen -s: ${(rate / sshKeygen.perSecond).toFixed(1)}x (target >= 20x)`);
  console.log(`ratio API / raw PKCS#11: ${(rate / raw.perSecond).toFixed(2)}`);
  console.log(`ratio API / in-process issuance: ${(rate / inProcess.perSecond).toFixed(2)}; in-process issuance / ssh-keygen -s: ${(inProcess.perSecond / sshKeygen.perSecond).toFixed(1)}x`);
} finally {
  if (server !== undefined && server.exitCode === null) {
    // Wait for the server's own exit, so a profile it writes then (NODE_OPTIONS=--cpu-prof) is complete.
    const exited = once(server, 'exit');
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
  await oidc.close();
  rmSync(dataDir, { recursive: true, force: true });
}
