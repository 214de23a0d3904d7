import http from 'node:http';
import https from 'node:https';

/**
 * An open-loop load generator: requests start on a fixed schedule (rate per second, evenly spaced),
 * whether or not earlier ones have answered, and each latency is measured from the time the request
 * was due, not from when it was sent (as wrk2 does). That is what "p99 at N requests/s" means.
 *
 * autocannon's overallRate is not that: each connection sends back to back until it has made its
 * share of the second, then waits for the next second (lib/httpClient.js reqsMadeThisSecond), so
 * every second starts with a burst of all connections at once and latency is the burst's queue.
 *
 * Bounded: at most `seconds * rate` requests, and at most `maxInFlight` at a time; a request that
 * falls due while that many are open is counted as late and started as soon as one finishes, its
 * latency still measured from when it was due.
 */
export interface OpenLoopOptions {
  url: string;
  rate: number;
  seconds: number;
  /** One body for every request, or one per request (a single-use token in the body). */
  body: string | ((index: number) => string);
  headers: (index: number) => Record<string, string>;
  maxInFlight?: number;
  /** For an https URL: the PEM roots to verify the server with. */
  ca?: string;
}

export interface OpenLoopResult {
  rate: number;
  sent: number;
  ok: number;
  failed: number;
  /** Requests that could not start on time because maxInFlight were open. */
  late: number;
  seconds: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const maxInFlight = options.maxInFlight ?? 512;
  const total = Math.round(options.seconds * options.rate);
  const interval = 1000 / options.rate;
  const target = new URL(options.url);
  const tls = target.protocol === 'https:';
  const agent = tls ? new https.Agent({ keepAlive: true, maxSockets: maxInFlight, ca: options.ca }) : new http.Agent({ keepAlive: true, maxSockets: maxInFlight });
  const bodyFor = typeof options.body === 'string' ? ((body: string) => () => body)(options.body) : options.body;
  const latencies: number[] = [];
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let late = 0;
  let inFlight = 0;
  const waiting: number[] = [];
  const started = performance.now();

  const send = (index: number, dueAt: number): Promise<void> =>
    new Promise((resolve) => {
      inFlight += 1;
      sent += 1;
      const request = (tls ? https : http).request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', ...options.headers(index) } },
        (response) => {
          response.resume();
          response.on('end', () => {
            latencies.push(performance.now() - dueAt);
            if (response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300) ok += 1;
            else failed += 1;
            finish();
          });
        },
      );
      request.on('error', () => {
        failed += 1;
        finish();
      });
      request.end(bodyFor(index));
      function finish(): void {
        inFlight -= 1;
        const next = waiting.shift();
        if (next !== undefined) void send(next, started + next * interval);
        resolve();
      }
    });

  await new Promise<void>((resolve) => {
    let scheduled = 0;
    const tick = (): void => {
      // Start everything that is due by now (timers fire late; catching up keeps the schedule).
      const due = Math.min(total, Math.floor((performance.now() - started) / interval) + 1);
      for (; scheduled < due; scheduled++) {
        if (inFlight < maxInFlight) void send(scheduled, started + scheduled * interval);
        else {
          late += 1;
          waiting.push(scheduled);
        }
      }
      if (scheduled < total) setTimeout(tick, Math.max(0, started + scheduled * interval - performance.now()));
      else resolve();
    };
    tick();
  });
  // Bounded wait for the tail: every request has a 10 s server timeout.
  for (let i = 0; i < 3000 && (inFlight > 0 || waiting.length > 0); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { rate: options.rate, sent, ok, failed, late, seconds, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: latencies.at(-1) ?? Number.NaN };
}
