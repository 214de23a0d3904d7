import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Signer, SignOptions } from '../keys/signer.ts';

/** Prometheus metrics for one app instance (own registry, so tests can run several apps). */
export interface ApiMetrics {
  registry: Registry;
  issued: Counter<'kind' | 'role'>;
  approvals: Counter<'mode'>;
  operationsGranted: Counter<'operation'>;
  lifetimeSeconds: Histogram<'kind'>;
  denied: Counter<'rule'>;
  revoked: Counter<'rule'>;
  pending: Gauge;
  hsmSignSeconds: Histogram;
  requestSeconds: Histogram<'method' | 'route' | 'status'>;
}

export function createMetrics(
  pendingCount: () => Promise<number>,
  storeThreadHeap: () => Promise<{ usedBytes: number; totalBytes: number } | undefined>,
  oldestPendingAgeSeconds: () => Promise<number> = () => Promise.resolve(0),
): ApiMetrics {
  const registry = new Registry();
  // How long the longest-waiting request has waited for approvers: what "approvals are slow" reads.
  new Gauge({
    name: 'jitca_pending_approval_oldest_seconds',
    help: 'Age of the oldest request waiting for approval (0 when none waits)',
    registers: [registry],
    async collect() {
      this.set(await oldestPendingAgeSeconds());
    },
  });
  // The store's worker thread has its own V8 heap, outside nodejs_heap_size_*: without this a
  // leak there shows only as RSS (issue 12's soak).
  new Gauge({
      name: 'jitca_store_thread_heap_bytes',
      help: "V8 heap of the store's worker thread, used and total",
      labelNames: ['kind'],
      registers: [registry],
      async collect() {
        const heap = await storeThreadHeap();
        this.reset();
        if (heap === undefined) return;
        this.set({ kind: 'used' }, heap.usedBytes);
        this.set({ kind: 'total' }, heap.totalBytes);
      },
    });
  // The process itself: CPU, memory, event-loop delay and GC pauses, what an operator looks at
  // first when latency rises (the event loop carries every request and every HSM completion).
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    // role: bounded by the policy's role count; lets alerts single out break-glass roles.
    issued: new Counter({ name: 'jitca_certificates_issued_total', help: 'Certificates issued, by kind and role', labelNames: ['kind', 'role'], registers: [registry] }),
    // mode: auto (policy alone issued) or manual (an approver approved, final or not).
    approvals: new Counter({ name: 'jitca_approvals_total', help: 'Approvals given, by mode (auto: by policy; manual: by an approver)', labelNames: ['mode'], registers: [registry] }),
    // operation: the approval matrix's five names; what the "frequent exec" alert counts.
    operationsGranted: new Counter({
      name: 'jitca_operations_granted_total',
      help: 'Operations carried by issued certificates, by operation',
      labelNames: ['operation'],
      registers: [registry],
    }),
    lifetimeSeconds: new Histogram({
      name: 'jitca_certificate_lifetime_seconds',
      help: 'Lifetime of issued certificates (valid before minus valid after), by kind',
      labelNames: ['kind'],
      buckets: [300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400],
      registers: [registry],
    }),
    denied: new Counter({ name: 'jitca_requests_denied_total', help: 'Requests denied, by policy rule', labelNames: ['rule'], registers: [registry] }),
    revoked: new Counter({
      name: 'jitca_certificates_revoked_total',
      help: 'SSH certificates revoked through the API, by the rule that allowed it (revoke.self, revoke.group)',
      labelNames: ['rule'],
      registers: [registry],
    }),
    pending: new Gauge({
      name: 'jitca_pending_approvals',
      help: 'Requests waiting for manual approval',
      registers: [registry],
      async collect() {
        this.set(await pendingCount());
      },
    }),
    hsmSignSeconds: new Histogram({
      name: 'jitca_hsm_sign_seconds',
      help: 'Latency of one HSM signature',
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25],
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: 'jitca_http_request_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
      registers: [registry],
    }),
  };
}

/** One issued certificate in the metrics: by kind and role, its lifetime, its operations, and how it was approved. */
export function countIssuance(
  metrics: ApiMetrics,
  issued: { kind: 'ssh-user' | 'x509-client'; role: string; validAfter: Date; validBefore: Date; operations?: readonly string[]; mode: 'auto' | 'manual' },
): void {
  metrics.issued.inc({ kind: issued.kind, role: issued.role });
  metrics.lifetimeSeconds.observe({ kind: issued.kind }, (issued.validBefore.getTime() - issued.validAfter.getTime()) / 1000);
  for (const operation of issued.operations ?? []) metrics.operationsGranted.inc({ operation });
  // A manual issuance's approval was counted when the approver gave it.
  if (issued.mode === 'auto') metrics.approvals.inc({ mode: 'auto' });
}

/** The same Signer, timing each signature into the HSM latency histogram. */
export function instrumentSigner(signer: Signer, histogram: Histogram): Signer {
  return {
    keyId: signer.keyId,
    algorithm: signer.algorithm,
    publicKey: signer.publicKey,
    spki: signer.spki,
    checkedSignature: (signature) => signer.checkedSignature?.(signature) ?? false,
    async sign(data: Uint8Array, options?: SignOptions): Promise<Uint8Array> {
      const end = histogram.startTimer();
      try {
        return await signer.sign(data, options);
      } finally {
        end();
      }
    },
  };
}

/**
 * instrumentSigner for whichever generation is active, wrapped once per generation: the wrapper is
 * what issuance sees as the signer, and the issuing-CA cache (x509/issuing-ca.ts) keys on it.
 */
export function instrumentActiveSigner(active: () => Signer, histogram: Histogram): () => Signer {
  const wrapped = new WeakMap<Signer, Signer>();
  return () => {
    const signer = active();
    let instrumented = wrapped.get(signer);
    if (instrumented === undefined) {
      instrumented = instrumentSigner(signer, histogram);
      wrapped.set(signer, instrumented);
    }
    return instrumented;
  };
}

/** instrumentActiveSigner for a CA that signs with a certificate of its own (X.509): one wrapped pair per generation. */
export function instrumentActiveCa<Ca extends { readonly signer: Signer }>(active: () => Ca, histogram: Histogram): () => Ca {
  const wrapped = new WeakMap<Ca, Ca>();
  return () => {
    const ca = active();
    let instrumented = wrapped.get(ca);
    if (instrumented === undefined) {
      instrumented = { ...ca, signer: instrumentSigner(ca.signer, histogram) };
      wrapped.set(ca, instrumented);
    }
    return instrumented;
  };
}
