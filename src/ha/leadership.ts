import { Counter, Gauge, type Registry } from 'prom-client';

/** Whether this replica runs the singleton jobs now, as /metrics and the logs report it. */
export interface LeadershipStatus {
  /** single-replica: SQLite, one process, always runs them; elected: a PostgreSQL lease decides. */
  readonly mode: 'single-replica' | 'elected';
  readonly leading: boolean;
  /** The lease term this replica leads under (elected mode only). */
  readonly term: number | undefined;
  /** How many times this replica started and stopped leading since it started. */
  readonly transitions: { readonly started: number; readonly stopped: number };
}

/**
 * jitca_leader (1 while this replica leads), jitca_leader_term, and
 * jitca_leader_transitions_total (this replica's starts and stops of leading, by direction): what
 * an alert on "no leader" or "leadership flapping" reads.
 */
export function registerLeadershipMetrics(registry: Registry, status: () => LeadershipStatus): void {
  new Gauge({
    name: 'jitca_leader',
    help: 'Whether this replica runs the singleton jobs (1) or follows (0)',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      const current = status();
      this.reset();
      this.set({ mode: current.mode }, current.leading ? 1 : 0);
    },
  });
  new Gauge({
    name: 'jitca_leader_term',
    help: 'The leader lease term this replica leads under (0 when it follows or runs alone)',
    registers: [registry],
    collect() {
      this.set(status().term ?? 0);
    },
  });
  new Counter({
    name: 'jitca_leader_transitions_total',
    help: 'Times this replica started or stopped leading',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      const { started, stopped } = status().transitions;
      this.reset();
      this.inc({ direction: 'started' }, started);
      this.inc({ direction: 'stopped' }, stopped);
    },
  });
}
