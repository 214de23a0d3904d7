/**
 * The soak's traffic: a weighted mix of what the API sees in a day, each operation one to three
 * HTTP requests with the status it must get. Driven closed-loop (to find the saturated rate) or
 * open-loop at a fixed rate (the soak itself); both bounded by time and by count.
 */
export interface SoakIdentities {
  /** Tokens of engineers in the auto-approved role. */
  engineers: string[];
  /** Tokens of engineers who may ask for the manual role. */
  requesters: string[];
  /** Tokens of approvers (also revokers by group). */
  leads: string[];
  /** A token of someone in no role: every request is a denial. */
  outsider: string;
}

export interface SoakTarget {
  url: string;
  publicKey: string;
  tokens: SoakIdentities;
}

export interface TrafficCounts {
  operations: number;
  requests: number;
  /** Operations that got a status other than the one they must get, by operation and status. */
  unexpected: Map<string, number>;
  /** Operation counts by name. */
  byOperation: Map<string, number>;
}

/** Per HTTP request: [step, status it got (with the refusal's code and rule), status it must get]. */
type Step = [string, Reply, number];
type Operation = (target: SoakTarget, state: TrafficState, pick: (list: string[]) => string) => Promise<Step[]>;

interface Reply {
  status: number;
  json: Record<string, unknown>;
}

/** What operations hand to each other: serials that can be revoked (bounded). */
interface TrafficState {
  revocable: Array<{ serial: string; holder: string }>;
}

const MAX_REVOCABLE = 1000;

async function call(target: SoakTarget, method: string, path: string, token: string | undefined, body?: unknown): Promise<Reply> {
  const response = await fetch(`${target.url}${path}`, {
    method,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // a trust bundle or KRL is not JSON
  }
  return { status: response.status, json };
}

// The manual role's namespaces are '*': a request names the one it needs.
const certificateBody = (publicKey: string, role: string) => ({ publicKey, role, ttl: '5m', reason: 'soak', scope: { cluster: 'prod', namespace: 'payments' } });

const operations: Array<[number, string, Operation]> = [
  [40, 'issue', async (target, state, pick) => {
    const holder = pick(target.tokens.engineers);
    const issued = await call(target, 'POST', '/v1/ssh/certificates', holder, certificateBody(target.publicKey, 'oncall-payments'));
    if (issued.status === 201 && typeof issued.json['serial'] === 'string') {
      if (state.revocable.length >= MAX_REVOCABLE) state.revocable.shift();
      state.revocable.push({ serial: issued.json['serial'], holder });
    }
    return [['issue', issued, 201]];
  }],
  [15, 'denial', async (target) => {
    const denied = await call(target, 'POST', '/v1/ssh/certificates', target.tokens.outsider, certificateBody(target.publicKey, 'oncall-payments'));
    return [['denial', denied, 403]];
  }],
  [8, 'approval', async (target, _state, pick) => {
    const requester = pick(target.tokens.requesters);
    const pending = await call(target, 'POST', '/v1/ssh/certificates', requester, certificateBody(target.publicKey, 'break-glass'));
    const id = String(pending.json['requestId'] ?? 'none');
    const approved = await call(target, 'POST', `/v1/requests/${id}/approve`, pick(target.tokens.leads), { reason: 'soak approval' });
    const fetched = await call(target, 'GET', `/v1/requests/${id}/certificate`, requester);
    return [['approval.request', pending, 202], ['approval.approve', approved, 201], ['approval.fetch', fetched, 200]];
  }],
  [5, 'rejection', async (target, _state, pick) => {
    const pending = await call(target, 'POST', '/v1/ssh/certificates', pick(target.tokens.requesters), certificateBody(target.publicKey, 'break-glass'));
    const id = String(pending.json['requestId'] ?? 'none');
    const denied = await call(target, 'POST', `/v1/requests/${id}/deny`, pick(target.tokens.leads), { reason: 'soak rejection' });
    return [['rejection.request', pending, 202], ['rejection.deny', denied, 204]];
  }],
  [10, 'revocation', async (target, state) => {
    const victim = state.revocable.shift();
    if (victim === undefined) return [];
    const revoked = await call(target, 'POST', `/v1/ssh/certificates/${victim.serial}/revoke`, victim.holder, { reason: 'soak revocation' });
    return [['revocation', revoked, 200]];
  }],
  [15, 'trust', async (target, _state, pick) => {
    const path = pick(['/v1/trust/ssh-user-ca', '/v1/trust/ssh-krl']);
    const fetched = await call(target, 'GET', path, undefined);
    return [['trust', fetched, 200]];
  }],
  // 401, or 429 should the per-address limit on failed authentication be on (bench/soak.ts turns it off for loopback).
  [7, 'bad-token', async (target, _state, pick) => {
    const token = pick(target.tokens.engineers);
    const tampered = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const refused = await call(target, 'POST', '/v1/ssh/certificates', tampered, certificateBody(target.publicKey, 'oncall-payments'));
    return [['bad-token', refused, refused.status === 429 ? 429 : 401]];
  }],
];

const totalWeight = operations.reduce((sum, [weight]) => sum + weight, 0);

/** A deterministic mix (a small LCG), so two runs send the same sequence. */
export function createTraffic(target: SoakTarget, seed = 1): { next(): Promise<void>; counts: TrafficCounts } {
  const state: TrafficState = { revocable: [] };
  const counts: TrafficCounts = { operations: 0, requests: 0, unexpected: new Map(), byOperation: new Map() };
  let random = seed >>> 0;
  const uniform = (): number => {
    random = (Math.imul(random, 1664525) + 1013904223) >>> 0;
    return random / 2 ** 32;
  };
  const pick = (list: string[]): string => list[Math.floor(uniform() * list.length)] ?? list[0]!;
  return {
    counts,
    async next() {
      let roll = uniform() * totalWeight;
      const entry = operations.find(([weight]) => (roll -= weight) < 0) ?? operations[0]!;
      const [, name, operation] = entry;
      counts.operations += 1;
      counts.byOperation.set(name, (counts.byOperation.get(name) ?? 0) + 1);
      let results: Step[];
      try {
        results = await operation(target, state, pick);
      } catch (error) {
        results = [[`${name} (${(error as Error).name})`, { status: 0, json: {} }, 1]];
      }
      for (const [step, got, expected] of results) {
        counts.requests += 1;
        if (got.status !== expected) {
          const rule = (got.json['details'] as Record<string, unknown> | undefined)?.['rule'];
          const key = `${step} ${got.status} ${String(got.json['code'] ?? '')}${rule === undefined ? '' : ` ${String(rule)}`}`.trim();
          counts.unexpected.set(key, (counts.unexpected.get(key) ?? 0) + 1);
        }
      }
    },
  };
}

/** As many operations as `concurrency` loops complete in `seconds`: the saturated rate. */
export async function measureSaturatedRate(target: SoakTarget, seconds: number, concurrency: number): Promise<{ operationsPerSecond: number; requestsPerSecond: number }> {
  const traffic = createTraffic(target, 7);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const maxOperations = 1_000_000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && traffic.counts.operations < maxOperations) await traffic.next();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { operationsPerSecond: traffic.counts.operations / elapsed, requestsPerSecond: traffic.counts.requests / elapsed };
}

/**
 * Operations started on a fixed schedule (`rate` per second, evenly spaced) whether or not earlier
 * ones finished, at most `maxInFlight` at once (one due while that many are open starts late, and
 * is counted). Bounded: `seconds * rate` operations, then a bounded wait for the tail.
 */
export async function runAtRate(traffic: ReturnType<typeof createTraffic>, rate: number, seconds: number, maxInFlight = 256): Promise<{ late: number }> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const started = performance.now();
  let inFlight = 0;
  let late = 0;
  let scheduled = 0;
  const start = (): void => {
    inFlight += 1;
    void traffic.next().finally(() => (inFlight -= 1));
  };
  while (scheduled < total) {
    const due = Math.min(total, Math.floor((performance.now() - started) / interval) + 1);
    for (; scheduled < due; scheduled++) {
      if (inFlight >= maxInFlight) late += 1;
      // Late ones wait for a free slot (bounded: each request has the server's 10 s deadline).
      for (let wait = 0; inFlight >= maxInFlight && wait < 1000; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
      start();
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + scheduled * interval - performance.now())));
  }
  for (let wait = 0; inFlight > 0 && wait < 3000; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
  return { late };
}
