/**
 * jitca against its peer, smallstep step-ca 0.19, on the same machine (issue 16): each a separate
 * process, fresh for each round, alternating (the order rotates each round), driven by the same
 * load generator as bench/api.ts (bench/peer/drive.ts):
 *   - step-ca, POST /ssh/sign over HTTPS: ECDSA P-256 SSH user CA key in a new SoftHSM2 token
 *     (pkcs11 KMS), OIDC provisioner trusting the bench's issuer, badger, no request log
 *     (bench/peer/step-ca.ts); one fresh RS256 ID token per request, minted before each phase;
 *   - jitca, POST /v1/ssh/certificates over HTTP as bench/api.ts runs it (bench/peer/jitca.ts; over
 *     HTTPS with --jitca-tls),
 *     with an Ed25519 and with a P-256 SSH user CA key; 16 engineers' access tokens from the
 *     issuer's device flow, reused as bench/api.ts reuses them.
 * Per round and server: saturated certificates/s, server CPU µs per certificate (all its threads,
 * from /proc), open-loop p50/p99; then the ratios issue 16 names (bench/peer/report.ts).
 *
 * Build the peer first: scripts/setup-peer && scripts/build-step-ca
 * Run: ./scripts/node node bench/peer-step-ca.ts [--rounds 5] [--seconds 10] [--warmup 2] [--max-rate 3000] [--rate 500] [--jitca-tls]
 *        [--jitca-base DIR]   (also runs another checkout, "jitca base", in the same rounds: before and after)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { startOidcProvider } from '../test/support/oidc-provider.ts';
import { machineLine } from './references.ts';
import { measure, type Measurement, type Target } from './peer/drive.ts';
import { idTokenMinter } from './peer/id-tokens.ts';
import { startJitca } from './peer/jitca.ts';
import { formatRatios, parsePeerOptions, ratios, roundOrder, spread, type Ratios } from './peer/report.ts';
import { removeOnExit, type ServerProcess } from './peer/processes.ts';
import { startStepCa } from './peer/step-ca.ts';

const options = parsePeerOptions(process.argv.slice(2));
const root = path.resolve(import.meta.dirname, '..');
const stepCaBinary = path.join(root, '.peer/bin/step-ca');
if (!existsSync(stepCaBinary)) throw new Error(`no ${stepCaBinary}: run scripts/setup-peer and scripts/build-step-ca first`);

const engineers = Array.from({ length: 16 }, (_, i) => `eng${i}`);
const audience = 'urn:jitca:api';
const stepCaClientId = 'step-ca-bench';
const workDir = mkdtempSync(path.join(tmpdir(), 'jitca-bench-peer-'));
removeOnExit(workDir);

type Started = ServerProcess & { target: Target };
interface Server {
  name: string;
  start(dir: string): Promise<Started>;
}

const oidc = await startOidcProvider({ accounts: Object.fromEntries(engineers.map((name) => [name, { groups: ['oncall-payments'] }])), audience });
try {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(workDir, 'user')]);
  const publicKey = readFileSync(path.join(workDir, 'user.pub'), 'utf8').trim();
  const minter = idTokenMinter({ signingKey: oidc.signingKeys()[0]!, issuer: oidc.issuer, audience: stepCaClientId, emails: engineers.map((name) => `${name}@jitca.dev`) });

  const stepCa: Server = {
    name: 'step-ca P-256',
    async start(dir) {
      const server = await startStepCa({ binary: stepCaBinary, dir, issuer: oidc.issuer, clientId: stepCaClientId });
      const publicKeyBlob = publicKey.split(' ')[1]!;
      // Whole bodies, built off the clock like the tokens in them: the load generator only sends them.
      const prepare = (count: number) => {
        const bodies = minter
          .mint(count)
          .map((ott, index) => JSON.stringify({ publicKey: publicKeyBlob, ott, certType: 'user', principals: [engineers[index % engineers.length]], validBefore: '10m' }));
        return (index: number) => ({ body: bodies[index]!, headers: {} });
      };
      return { ...server, target: { url: `${server.url}/ssh/sign`, pid: server.pid, ca: server.ca, prepare } };
    },
  };
  const jitca = (name: string, keyAlgorithm: 'ed25519' | 'ecdsa-p256', checkout?: string): Server => ({
    name,
    async start(dir) {
      const tokens = await Promise.all(engineers.map((engineer) => oidc.tokenFor(engineer, { expiresInSeconds: 3600 })));
      const server = await startJitca({ dir, keyAlgorithm, issuer: oidc.issuer, jwksUri: oidc.jwksUri, audience, tls: options.jitcaTls, checkout });
      const body = JSON.stringify({ publicKey, ttl: '10m', reason: 'bench' });
      const prepare = () => (index: number) => ({ body, headers: { authorization: `Bearer ${tokens[index % tokens.length]}` } });
      return { ...server, target: { url: `${server.url}/v1/ssh/certificates`, pid: server.pid, ca: server.ca, prepare } };
    },
  });
  const transport = options.jitcaTls ? ' HTTPS' : '';
  const base = options.jitcaBase;
  const baseServers =
    base === undefined
      ? []
      : [jitca(`jitca base Ed25519${transport}`, 'ed25519', base), jitca(`jitca base P-256${transport}`, 'ecdsa-p256', base)];
  const servers = [stepCa, ...baseServers, jitca(`jitca Ed25519${transport}`, 'ed25519'), jitca(`jitca P-256${transport}`, 'ecdsa-p256')];

  console.log(machineLine());
  if (base !== undefined) console.log(`jitca base: ${base} at ${execFileSync('git', ['-C', base, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()}; jitca: this checkout at ${execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()}`);
  console.log(
    `peer bench: ${options.rounds} rounds; per server: ${options.warmupSeconds} s warm-up, ${options.seconds} s saturated (32 connections, up to ${options.maxRate}/s prepared), ${options.seconds} s open loop at ${options.rate}/s`,
  );
  const perRound: Map<string, Ratios>[] = [];
  const figures = new Map<string, Measurement[]>(servers.map((server) => [server.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    const results = new Map<string, Measurement>();
    for (const server of roundOrder(servers, round)) {
      const dir = path.join(workDir, `round${round}-${server.name.replace(/\W+/g, '-')}`);
      mkdirSync(dir);
      const started = await server.start(dir);
      try {
        const load = loadavg()[0]!.toFixed(2);
        const result = await measure(started.target, { seconds: options.seconds, warmupSeconds: options.warmupSeconds, maxRate: options.maxRate, openLoopRate: options.rate });
        results.set(server.name, result);
        figures.get(server.name)!.push(result);
        console.log(`round ${round + 1} ${server.name}: ${describe(result)}; load average ${load} before`);
      } finally {
        await started.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const step = results.get(stepCa.name)!;
    const roundRatios = new Map<string, Ratios>();
    for (const server of servers.slice(1)) {
      const r = ratios(figuresOf(results.get(server.name)!), figuresOf(step));
      roundRatios.set(server.name, r);
      console.log(`round ${round + 1} ${formatRatios(server.name, r)}`);
    }
    perRound.push(roundRatios);
  }

  console.log(`summary over ${options.rounds} rounds (min / median / max):`);
  for (const server of servers) {
    const runs = figures.get(server.name)!;
    console.log(
      `  ${server.name}: ${range(runs.map((m) => m.rate), 0)} certificates/s, ${range(runs.map((m) => m.cpuMicroseconds), 0)} µs CPU/cert, open-loop p99 ${range(runs.map((m) => m.openLoop.p99), 1)} ms`,
    );
  }
  for (const server of servers.slice(1)) {
    const rs = perRound.map((round) => round.get(server.name)!);
    console.log(
      `  ${server.name} / step-ca: rate ${range(rs.map((r) => r.rate), 2)}x, CPU/cert ${range(rs.map((r) => r.cpu), 2)}x, p99 difference ${range(rs.map((r) => r.p99Difference), 1)} ms; ` +
        `targets met in ${rs.filter((r) => r.rateMet && r.cpuMet && r.p99Met).length} of ${rs.length} rounds`,
    );
  }
} finally {
  await oidc.close();
  rmSync(workDir, { recursive: true, force: true });
}

function figuresOf(m: Measurement): { rate: number; cpuMicroseconds: number; p99: number } {
  return { rate: m.rate, cpuMicroseconds: m.cpuMicroseconds, p99: m.openLoop.p99 };
}

function describe(m: Measurement): string {
  const o = m.openLoop;
  return (
    `saturated ${m.rate.toFixed(0)}/s (${m.ok} ok, ${m.failed} failed${m.exhausted ? ', ran out of prepared requests: raise --max-rate' : ''}), ` +
    `server CPU ${m.cpuMicroseconds.toFixed(0)} µs/cert (${m.cpuByThread}), load generator ${m.loadGeneratorCpuMicroseconds.toFixed(0)} µs/cert; ` +
    `open loop ${o.rate}/s: p50 ${o.p50.toFixed(1)} ms, p99 ${o.p99.toFixed(1)} ms, failed ${o.failed}, late ${o.late}` +
    // Requests that could not start on schedule mean the server (or the machine) could not keep the rate: that p99 is a queue.
    (o.late > 0 ? ' (the rate was not kept: this p99 measures a queue)' : '')
  );
}

function range(values: number[], digits: number): string {
  const { min, median, max } = spread(values);
  return `${min.toFixed(digits)} / ${median.toFixed(digits)} / ${max.toFixed(digits)}`;
}
