/**
 * Rotation under load (issue 19): `jitca serve` (a separate process, real OIDC tokens, SoftHSM2,
 * SQLite) takes SSH certificate requests at a fixed open-loop rate while `jitca rotate apply
 * --force` (separate processes, as the security team or the CronJob runs it) generates the next
 * ssh-user generation and then promotes it, and the same for kube-client. It prints how long each
 * step took (the whole command, and the command's start-up measured alone with `--version`), the
 * rate and every non-201 per second across the promotion, and which CA generation signed the
 * certificates before and after (serve picks a promotion up within KEYRING_REFRESH_MS).
 *
 * Run: ./scripts/node node bench/rotation.ts [--rate 200] [--seconds 45]
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initializeCa } from '../src/ca-runtime.ts';
import { buildConfig } from '../src/config.ts';
import { parseCertificate } from '../src/ssh/certificate-parse.ts';
import { sshFingerprint } from '../src/ssh/public-key.ts';
import { startOidcProvider } from '../test/support/oidc-provider.ts';
import { freePort } from '../test/support/sshd.ts';
import { benchConnectionLimits, benchPolicy, machineLine, numberOption, waitUntilReady } from './references.ts';

const rate = numberOption('rate', 200);
const seconds = numberOption('seconds', 45);
const root = path.resolve(import.meta.dirname, '..');
const jitca = path.join(root, 'bin/jitca');
const dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-rotation-bench-'));
const audience = 'urn:jitca:api';
const oidc = await startOidcProvider({ accounts: { alice: { groups: ['oncall-payments'] } }, audience });
let server: ReturnType<typeof spawn> | undefined;

/** Wall time of a command, milliseconds, and its stdout. Asynchronous: the load goes on meanwhile. */
async function timed(args: string[]): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const { stdout } = await promisify(execFile)(jitca, ['--config', path.join(dataDir, 'config.json'), '--data-dir', dataDir, ...args], { encoding: 'utf8' });
  return { ms: performance.now() - started, stdout };
}

try {
  writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(benchPolicy));
  const port = await freePort();
  const server_ = { port, rateLimitPerMinute: 1_000_000, logLevel: 'warn', authFailuresExemptLoopback: true, ...benchConnectionLimits };
  writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ oidc: { issuer: oidc.issuer, audience, jwksUri: oidc.jwksUri }, server: server_ }));
  const config = buildConfig({ configFile: path.join(dataDir, 'config.json'), dataDir });
  await initializeCa(config);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dataDir, 'user')]);
  const publicKey = readFileSync(path.join(dataDir, 'user.pub'), 'utf8').trim();
  const token = await oidc.tokenFor('alice', { expiresInSeconds: 3600 });

  server = spawn(jitca, ['--config', path.join(dataDir, 'config.json'), '--data-dir', dataDir, 'serve'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(url, 30);

  // Per second: certificates by the CA key that signed them, and every other status.
  const perSecond: Array<{ byCa: Map<string, number>; failed: Map<number, number> }> = Array.from({ length: Math.ceil(seconds) + 30 }, () => ({ byCa: new Map(), failed: new Map() }));
  const started = performance.now();
  const second = (): number => Math.floor((performance.now() - started) / 1000);
  const inFlight = new Set<Promise<void>>();
  const issueOne = async (): Promise<void> => {
    const at = second();
    const response = await fetch(`${url}/v1/ssh/certificates`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ publicKey, role: 'oncall-payments', ttl: '5m', reason: 'bench' }),
    }).catch(() => undefined);
    const bucket = perSecond[at]!;
    if (response?.status !== 201) {
      const status = response?.status ?? 0;
      bucket.failed.set(status, (bucket.failed.get(status) ?? 0) + 1);
      await response?.text();
      return;
    }
    const { certificate } = (await response.json()) as { certificate: string };
    const ca = sshFingerprint(parseCertificate(certificate).signatureKey.blob);
    bucket.byCa.set(ca, (bucket.byCa.get(ca) ?? 0) + 1);
  };
  const load = (async () => {
    const total = Math.floor(rate * seconds);
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (inFlight.size >= 512) continue; // bounded: a request not sent counts as missing from the rate
      const request = issueOne().finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
    await Promise.all(inFlight);
  })();

  const startup = (await timed(['--version'])).ms;
  const steps: Array<[string, number, number]> = [];
  const step = async (label: string, args: string[], atSecond: number): Promise<void> => {
    const wait = started + atSecond * 1000 - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const at = second();
    steps.push([label, (await timed(args)).ms, at]);
  };
  await step('ssh-user: generate next', ['rotate', 'apply', '--force', '--ca', 'ssh-user'], seconds * 0.15);
  await step('ssh-user: promote next', ['rotate', 'apply', '--force', '--ca', 'ssh-user'], seconds * 0.35);
  await step('kube-client: generate next', ['rotate', 'apply', '--force', '--ca', 'kube-client'], seconds * 0.55);
  await step('kube-client: promote next', ['rotate', 'apply', '--force', '--ca', 'kube-client'], seconds * 0.7);
  await load;
  const status = await timed(['rotate', 'status', '--ca', 'all']);

  console.log(machineLine());
  console.log(`load: ${rate}/s open loop for ${seconds} s against jitca serve (SQLite, SoftHSM2, Ed25519)`);
  console.log(`jitca --version (start-up alone): ${startup.toFixed(0)} ms`);
  for (const [label, ms, at] of steps) console.log(`${label}: ${ms.toFixed(0)} ms (at ${at} s)`);
  const cas = [...new Set(perSecond.flatMap((bucket) => [...bucket.byCa.keys()]))];
  console.log(`CA keys that signed: ${cas.map((ca, i) => `[${i}] ${ca}`).join('  ')}`);
  console.log('second: certificates by CA key [i]=n; non-201 statuses');
  let failures = 0;
  let issued = 0;
  for (const [i, bucket] of perSecond.entries()) {
    if (bucket.byCa.size === 0 && bucket.failed.size === 0) continue;
    failures += [...bucket.failed.values()].reduce((sum, n) => sum + n, 0);
    issued += [...bucket.byCa.values()].reduce((sum, n) => sum + n, 0);
    const signed = cas.map((ca, index) => `[${index}]=${bucket.byCa.get(ca) ?? 0}`).join(' ');
    const failed = [...bucket.failed].map(([code, n]) => `${code}x${n}`).join(' ');
    console.log(`  ${i}: ${signed}${failed === '' ? '' : `; ${failed}`}`);
  }
  console.log(`total: ${issued} issued, ${failures} failed`);
  console.log(status.stdout);
} finally {
  server?.kill('SIGTERM');
  await oidc.close();
  rmSync(dataDir, { recursive: true, force: true });
}
