import type { Clock } from '../clock.ts';
import type { ConfigFile } from '../config-schema.ts';
import type { Store } from '../store/types.ts';
import type { HostReportHeaders } from './host-report-headers.ts';

const MINUTE_MS = 60_000;

export type HostReportOutcome = 'recorded' | 'unchanged' | 'rate-limited' | 'full';

/**
 * Records trust-sync host reports without letting them cost what the caller chooses. Reports are
 * unauthenticated (SECURITY.md, "Host reports"), so three bounds apply: a host repeating what it
 * said within rewriteAfterSeconds is not rewritten (a host polling every minute costs one write per
 * period, not per poll); at most writesPerMinute writes for all hosts together (a flood of made-up
 * names is dropped, not queued); and the store keeps at most maxHosts rows.
 */
export function createHostReportRecorder(options: {
  store: Pick<Store, 'recordHostReport'>;
  clock: Clock;
  limits: ConfigFile['hostReports'];
}): (report: HostReportHeaders, address: string) => Promise<HostReportOutcome> {
  const { store, clock, limits } = options;
  // What each host last had written, to skip rewriting the same thing; bounded like the table.
  const written = new Map<string, { installed: string; atMs: number }>();
  let windowStart = 0;
  let writes = 0;
  return async (report, address) => {
    const now = clock.now();
    const installed = report.installed.join(',');
    const last = written.get(report.host);
    if (last !== undefined && last.installed === installed && now - last.atMs < limits.rewriteAfterSeconds * 1000) return 'unchanged';
    if (now - windowStart >= MINUTE_MS) {
      windowStart = now;
      writes = 0;
    }
    if (writes >= limits.writesPerMinute) return 'rate-limited';
    writes += 1;
    const outcome = await store.recordHostReport(
      { host: report.host, installed: report.installed, address, lastSeen: new Date(now).toISOString() },
      { maxHosts: limits.maxHosts, staleBeforeIso: new Date(now - limits.windowHours * 3_600_000).toISOString() },
    );
    if (outcome === 'recorded') {
      if (written.size >= limits.maxHosts) written.clear();
      written.set(report.host, { installed, atMs: now });
    }
    return outcome;
  };
}
