/**
 * High availability on this machine (issue 17): issuance through 1, 2 and 3 `jitca serve` replicas
 * on one PostgreSQL, in the same run, and how long a new leader takes after the leader is killed
 * (SIGKILL: the lease must expire) or stopped (SIGTERM: it releases the lease).
 *   - issuance: a closed loop of `--concurrency` requests spread round robin over the replicas
 *     (test/support/ha-cluster.ts, the client the HA test uses), `--seconds` per phase after a
 *     warm-up; rate, p50/p99, and the ratio to one replica;
 *   - takeover: `--trials` times each, from the signal to the first /metrics that shows exactly one
 *     leader among the others, polled every 50 ms, with the production lease timings (15 s lease,
 *     10 s renew deadline, 2 s retry) unless `--lease-ms` is given.
 * Reports, does not assert. On a 2-core machine replicas add no CPU: what it shows is the cost of
 * the shared database and the spread, not scaling.
 *
 * Run: ./scripts/node node bench/ha-replicas.ts [--seconds 10] [--concurrency 32] [--trials 3] [--lease-ms 15000]
 */
import { parseArgs } from 'node:util';
import { startOidcProvider } from '../test/support/oidc-provider.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { createTempSshKey } from '../test/support/ssh-key.ts';
import { createHaDataDir, exited, isRunning, issueThroughReplicas, startReplica, untilOneLeader, type HaDataDir, type Replica } from '../test/support/ha-cluster.ts';
import { benchPolicy, machineLine } from './references.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '32' },
    trials: { type: 'string', default: '3' },
    'lease-ms': { type: 'string', default: '15000' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const trials = Number(values.trials);
const leaseMs = Number(values['lease-ms']);
// The production ratios (15 / 10 / 2 s), scaled to the lease asked for.
const timing = { leaderLeaseMs: leaseMs, leaderRenewDeadlineMs: Math.round((leaseMs * 2) / 3), leaderRetryMs: Math.max(20, Math.round(leaseMs / 7.5)) };
const audience = 'urn:jitca:api';

console.log(machineLine());
console.log(`ha-replicas: ${seconds} s per phase, ${concurrency} in flight, ${trials} takeover trials each, lease ${timing.leaderLeaseMs} ms / renew deadline ${timing.leaderRenewDeadlineMs} ms / retry ${timing.leaderRetryMs} ms`);

const cluster = await startPostgres();
const oidc = await startOidcProvider({ accounts: { eng0: { groups: ['oncall-payments'] } }, audience });
const key = createTempSshKey('jitca-bench-ha-');
const replicas: Replica[] = [];
let data: HaDataDir | undefined;
try {
  data = await createHaDataDir({
    postgresUrl: cluster.createDatabase('jitca_bench_ha'),
    policy: benchPolicy,
    store: timing,
    config: { oidc: { issuer: oidc.issuer, audience, jwksUri: oidc.jwksUri }, server: { rateLimitPerMinute: 1_000_000 } },
  });
  const token = await oidc.tokenFor('eng0', { expiresInSeconds: 3600 });
  const body = { publicKey: key.publicKey, ttl: '10m', reason: 'bench' };
  const phase = async (over: readonly Replica[], phaseSeconds: number) => {
    const began = performance.now();
    const tally = await issueThroughReplicas({ replicas: () => over, token, body, count: phaseSeconds * 20_000, concurrency, untilMs: began + phaseSeconds * 1000 });
    const elapsed = (performance.now() - began) / 1000;
    const sorted = [...tally.latenciesMs].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
    return { rate: tally.serials.length / elapsed, p50: at(0.5), p99: at(0.99), retried: tally.retried, failures: tally.failures.length, firstFailure: tally.failures[0] };
  };

  const rates: number[] = [];
  for (let n = 1; n <= 3; n++) {
    while (replicas.length < n) replicas.push(await startReplica(data));
    await phase(replicas, 2); // warm-up: JIT, JWKS cache, connections
    const result = await phase(replicas, seconds);
    rates.push(result.rate);
    console.log(
      `${n} replica${n === 1 ? '' : 's'}: ${result.rate.toFixed(0)} certificates/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, ` +
        `retried ${result.retried.status503} x 503 / ${result.retried.connection} x connection, failed ${result.failures}${result.firstFailure === undefined ? '' : ` (first: ${result.firstFailure})`}`,
    );
  }
  console.log(`2 replicas / 1: ${(rates[1]! / rates[0]!).toFixed(2)}x; 3 replicas / 1: ${(rates[2]! / rates[0]!).toFixed(2)}x`);

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    const takeovers: number[] = [];
    for (let trial = 0; trial < trials; trial++) {
      while (replicas.filter(isRunning).length < 3) replicas.push(await startReplica(data));
      const running = replicas.filter(isRunning);
      const leader = await untilOneLeader(running, timing.leaderLeaseMs * 3, 50);
      const signalled = performance.now();
      leader.child.kill(signal);
      await untilOneLeader(
        running.filter((replica) => replica !== leader),
        timing.leaderLeaseMs * 3,
        50,
      );
      takeovers.push(performance.now() - signalled);
      await exited(leader);
    }
    const shown = takeovers.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', ');
    console.log(`takeover after ${signal}: ${shown} (lease ${(timing.leaderLeaseMs / 1000).toFixed(1)} s)`);
  }
} finally {
  for (const replica of replicas) replica.child.kill('SIGKILL');
  await Promise.all(replicas.map(exited));
  await oidc.close();
  key.cleanup();
  cluster.stop();
  data?.remove();
}
