import type { CaRuntime } from '../src/ca-runtime.ts';
import { issueSshCertificate } from '../src/issuance/issue-ssh-certificate.ts';

export interface InProcessIssuance {
  perSecond: number;
  issued: number;
  seconds: number;
  commits: number;
  concurrency: number;
  /** Per-certificate latency (call to durable), ms. */
  p50Ms: number;
  p99Ms: number;
}

const maxIssued = 200_000;

/**
 * jitca's issuance pipeline called directly, with no HTTP and no token checks: strict key parse,
 * policy, SSH certificate encoding, the HSM signature and its check, and the durable store + audit
 * transaction (group commit) — what `jitca issue-ssh` and the API run per certificate. Bounded by
 * time and count. It is the ceiling of any API built on that pipeline on the same machine.
 */
export async function measureInProcessIssuance(runtime: CaRuntime, publicKey: string, seconds: number, concurrency = 32): Promise<InProcessIssuance> {
  const commitsBefore = runtime.store.stats().commits;
  const identity = { subject: 'alice', groups: ['oncall-payments'], via: 'local-cli' as const };
  let issued = 0;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && issued < maxIssued) {
        const callStarted = performance.now();
        const result = await issueSshCertificate(runtime.sshIssuance, identity, { publicKey, ttlSeconds: 600 });
        if (result.status !== 'issued') throw new Error('bench policy must auto-approve');
        latencies.push(performance.now() - callStarted);
        issued++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const percentile = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    perSecond: issued / elapsed,
    issued,
    seconds: elapsed,
    commits: runtime.store.stats().commits - commitsBefore,
    concurrency,
    p50Ms: percentile(0.5),
    p99Ms: percentile(0.99),
  };
}
