import { Counter, Gauge, type Registry } from 'prom-client';
import type { PolicyHolder } from './policy-in-force.ts';

/**
 * jitca_policy_reload_failures_total (reloads that kept the policy in force: a file that did not
 * load, or a load that could not be audited) and jitca_policy_loaded_time_seconds (when the policy
 * in force was loaded, Unix seconds: a change after a save shows the reload took). Label-free:
 * the digest in force is in the audit log's policy.loaded records, not a label per version.
 */
export function registerPolicyMetrics(registry: Registry, holder: PolicyHolder): void {
  new Counter({
    name: 'jitca_policy_reload_failures_total',
    help: 'Policy reloads refused by this process; the policy in force kept deciding',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(holder.refusals());
    },
  });
  new Gauge({
    name: 'jitca_policy_loaded_time_seconds',
    help: 'When the policy in force was loaded (Unix time, seconds)',
    registers: [registry],
    collect() {
      this.set(holder.current().loadedAt / 1000);
    },
  });
}
