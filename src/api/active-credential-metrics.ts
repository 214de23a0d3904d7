import { Gauge, type Registry } from 'prom-client';
import type { ActiveCertificateCount } from '../store/types.ts';

/** Label sets beyond this many are summed under namespace "(other)": a scrape's size stays bounded. */
export const MAX_ACTIVE_CREDENTIAL_SERIES = 500;

/**
 * jitca_active_credentials{kind,namespace,operation}: certificates valid now and not revoked, from
 * the store, so every replica reports the same number (the design documents' dashboard panel
 * "active sessions" and the per-namespace view read it). Namespaces come from requests, so their
 * number is bounded here rather than by policy.
 */
export function registerActiveCredentialMetrics(
  registry: Registry,
  sources: { count: (nowIso: string) => Promise<ActiveCertificateCount[]>; now: () => number },
): void {
  new Gauge({
    name: 'jitca_active_credentials',
    help: 'Certificates valid now and not revoked, by kind, namespace and operation ("" when the certificate names none)',
    labelNames: ['kind', 'namespace', 'operation'],
    registers: [registry],
    async collect() {
      const counts = boundedSeries(await sources.count(new Date(sources.now()).toISOString()));
      this.reset();
      for (const { kind, namespace, operation, count } of counts) this.set({ kind, namespace, operation }, count);
    },
  });
}

/** The largest series kept as they are; the rest summed by kind and operation under "(other)". */
export function boundedSeries(counts: readonly ActiveCertificateCount[]): ActiveCertificateCount[] {
  if (counts.length <= MAX_ACTIVE_CREDENTIAL_SERIES) return [...counts];
  const sorted = [...counts].sort((a, b) => b.count - a.count);
  const kept = sorted.slice(0, MAX_ACTIVE_CREDENTIAL_SERIES - 1);
  const other = new Map<string, ActiveCertificateCount>();
  for (const series of sorted.slice(MAX_ACTIVE_CREDENTIAL_SERIES - 1)) {
    const key = `${series.kind}\u0000${series.operation}`;
    const sum = other.get(key);
    if (sum === undefined) other.set(key, { ...series, namespace: '(other)' });
    else sum.count += series.count;
  }
  return [...kept, ...other.values()];
}
