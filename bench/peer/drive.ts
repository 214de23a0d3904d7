import autocannon from 'autocannon';
import { runOpenLoop, type OpenLoopResult } from '../open-loop.ts';
import { cpuPerOperation, threadCpu, totalCpuPerOperation } from '../thread-cpu.ts';

/**
 * One server under the load bench/api.ts applies, the same for jitca and step-ca:
 *   1. warm-up, closed loop (JIT, JWKS cache, store pages);
 *   2. saturated: autocannon, 32 connections, closed loop; CPU per certificate of the server's
 *      threads from /proc over this phase;
 *   3. open loop at a fixed rate (bench/open-loop.ts), p50/p99 measured from when each was due.
 * Every phase is bounded twice: by its duration and by the requests prepared for it (a server that
 * takes single-use tokens gets exactly that many, minted before the phase).
 */
export interface Target {
  /** The signing endpoint. */
  url: string;
  /** The server process, for its CPU time. */
  pid: number;
  /** PEM roots for an https URL. */
  ca?: string;
  /** Prepares `count` requests, off the clock; returns each one's body and headers. */
  prepare(count: number): (index: number) => { body: string; headers: Record<string, string> };
}

export interface PhaseOptions {
  seconds: number;
  warmupSeconds: number;
  /** Requests prepared per second of a closed-loop phase: above any rate either server reaches. */
  maxRate: number;
  openLoopRate: number;
}

export interface Measurement {
  /** Saturated certificates/s: 2xx over the time from the first request to the last 2xx answer. */
  rate: number;
  ok: number;
  failed: number;
  /** The saturated phase ran out of prepared requests before its duration (raise --max-rate). */
  exhausted: boolean;
  cpuMicroseconds: number;
  cpuByThread: string;
  /** This process's CPU per certificate in the saturated phase: the load generator shares the cores (and pays the client side of TLS). */
  loadGeneratorCpuMicroseconds: number;
  openLoop: OpenLoopResult;
}

export async function measure(target: Target, options: PhaseOptions): Promise<Measurement> {
  await closedLoop(target, options.warmupSeconds, options.maxRate, target.prepare(Math.ceil(options.warmupSeconds * options.maxRate)));
  // Prepared before the CPU samples: minting tokens is neither server nor load-generator work.
  const prepared = target.prepare(Math.ceil(options.seconds * options.maxRate));
  const before = threadCpu(target.pid);
  const benchBefore = threadCpu(process.pid);
  const saturated = await closedLoop(target, options.seconds, options.maxRate, prepared);
  const after = threadCpu(target.pid);
  const benchAfter = threadCpu(process.pid);
  // A server that refuses every request (a token it does not accept, a bad request) is a broken set-up, not a result.
  if (saturated.ok === 0) throw new Error(`${target.url}: no certificate issued in the saturated phase (${saturated.failed} failed)`);

  const count = Math.ceil(options.seconds * options.openLoopRate);
  const request = target.prepare(count);
  const openLoop = await runOpenLoop({
    url: target.url,
    rate: options.openLoopRate,
    seconds: options.seconds,
    body: (index) => request(index).body,
    headers: (index) => request(index).headers,
    ca: target.ca,
  });
  return {
    ...saturated,
    cpuMicroseconds: totalCpuPerOperation(before, after, saturated.ok),
    cpuByThread: cpuPerOperation(before, after, saturated.ok),
    loadGeneratorCpuMicroseconds: totalCpuPerOperation(benchBefore, benchAfter, saturated.ok),
    openLoop,
  };
}

async function closedLoop(
  target: Target,
  seconds: number,
  maxRate: number,
  request: ReturnType<Target['prepare']>,
): Promise<Pick<Measurement, 'rate' | 'ok' | 'failed' | 'exhausted'>> {
  const amount = Math.ceil(seconds * maxRate);
  let next = 0;
  let ok = 0;
  let lastOkAt = 0;
  const started = performance.now();
  let finished!: (outcome: { error: unknown; result: autocannon.Result }) => void;
  const done = new Promise<{ error: unknown; result: autocannon.Result }>((resolve) => (finished = resolve));
  const instance = autocannon(
    {
      url: target.url,
      method: 'POST',
      connections: 32,
      amount,
      tlsOptions: target.ca === undefined ? undefined : { ca: target.ca },
      headers: { 'content-type': 'application/json' },
      requests: [
        {
          setupRequest: (raw) => {
            const { body, headers } = request(next++);
            return { ...raw, body, headers: { ...raw.headers, ...headers } };
          },
        },
      ],
    },
    (error, result) => finished({ error, result }),
  );
  instance.on('response', (_client: unknown, statusCode: number) => {
    if (statusCode >= 200 && statusCode < 300) {
      ok += 1;
      lastOkAt = performance.now();
    }
  });
  const timer = setTimeout(() => instance.stop(), seconds * 1000);
  const { error, result } = await done;
  clearTimeout(timer);
  if (error) throw error;
  const elapsed = (lastOkAt - started) / 1000;
  return {
    rate: ok > 0 ? ok / elapsed : 0,
    ok,
    failed: result.non2xx + result.errors,
    exhausted: elapsed < seconds * 0.95 && ok + result.non2xx >= amount,
  };
}
