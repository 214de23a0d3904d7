import type { CaGeneration, CaKind, HostReport, Store } from '../src/store/types.ts';
import { sshFingerprintOf } from '../src/issuance/signed-trust-bundle.ts';
import type { PromotionReadiness, ReadinessVerdict } from './promotion-readiness.ts';

/** config hostReports: the share of hosts that must have the next generation, and which hosts count. */
export interface HostReadinessSettings {
  /** 0 to 1; 1 (the default) means every host seen in the window. */
  readyShare: number;
  windowHours: number;
}

/** One host as `jitca rotate status` shows it for a generation. */
export interface HostReadinessRow {
  name: string;
  lastSeen: string;
  /** The address its last report came from: a host names itself, the address is what the server saw. */
  address: string;
  hasGeneration: boolean;
}

/** The reports that count at `now`: hosts whose last fetch lies within the window. */
export function windowStart(now: Date, settings: Pick<HostReadinessSettings, 'windowHours'>): string {
  return new Date(now.getTime() - settings.windowHours * 3_600_000).toISOString();
}

/** Per host: whether its installed set holds the fingerprint. Pure. */
export function hostReadinessRows(reports: readonly HostReport[], fingerprint: string): HostReadinessRow[] {
  return reports.map((report) => ({ name: report.host, lastSeen: report.lastSeen, address: report.address, hasGeneration: report.installed.includes(fingerprint) }));
}

/**
 * Whether enough hosts trust the next generation (pure: reports already limited to the window).
 * Ready when at least readyShare of them report its fingerprint installed. No host at all is
 * ready: without trust-sync nothing reports, and the overlap period is all that can be waited for;
 * the detail says so, so `rotate status` does not look like hosts agreed.
 */
export function decideHostReadiness(reports: readonly HostReport[], fingerprint: string, settings: HostReadinessSettings): ReadinessVerdict {
  const hosts = hostReadinessRows(reports, fingerprint);
  const withIt = hosts.filter((host) => host.hasGeneration).length;
  const window = `${settings.windowHours} h`;
  if (hosts.length === 0) {
    return { ready: true, detail: `no host reported within the last ${window}: nothing to wait for (hosts report with jitca trust-sync)`, hosts: [] };
  }
  // Whole hosts: 90 % of 10 is 9; the epsilon keeps 7 % of 100 (7.000000000000001) from needing 8.
  const needed = Math.ceil(settings.readyShare * hosts.length - 1e-9);
  const missing = hosts.filter((host) => !host.hasGeneration).map((host) => host.name);
  const ready = withIt >= needed;
  const detail = `${withIt} of ${hosts.length} hosts seen in the last ${window} have ${fingerprint} (${needed} needed)${
    ready || missing.length === 0 ? '' : `; waiting for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`
  }`;
  return { ready, detail, hosts };
}

/**
 * For `jitca rotate status`: every host seen in the window with whether it has the generation
 * installed, by host name. The rotation engine calls this; it decides nothing.
 */
export async function hostReadinessForStatus(
  store: Pick<Store, 'listHostReports'>,
  settings: HostReadinessSettings,
  generation: Pick<CaGeneration, 'publicKey'>,
  now: Date,
): Promise<HostReadinessRow[]> {
  return hostReadinessRows(await store.listHostReports(windowStart(now, settings)), sshFingerprintOf(generation));
}

/**
 * PromotionReadiness for the SSH user CA from trust-sync's host reports: a thin reader around
 * decideHostReadiness. The Kubernetes client CA is not decided here (hosts report SSH keys only):
 * for kube-client it answers ready with a detail saying so, and the engine combines it with the
 * published-PEM overlap rule.
 */
export function createHostReadiness(options: { store: Pick<Store, 'listHostReports'>; settings: HostReadinessSettings }): PromotionReadiness {
  return {
    async check(ca: CaKind, next: CaGeneration, now: Date): Promise<ReadinessVerdict> {
      if (ca !== 'ssh-user') return { ready: true, detail: `host reports do not decide ${ca} promotions` };
      const reports = await options.store.listHostReports(windowStart(now, options.settings));
      return decideHostReadiness(reports, sshFingerprintOf(next), options.settings);
    },
  };
}
