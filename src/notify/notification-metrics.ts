import { Counter, Gauge, type Registry } from 'prom-client';
import type { NotificationBacklog } from '../store/types.ts';
import { countsOf, type DeliveryCounters } from './outbox-delivery.ts';

/**
 * jitca_notification_deliveries_total{sink,outcome} (this replica's attempts: sent, failed and
 * to be retried, dead), and from the store, so every replica reports the same shared backlog:
 * jitca_notification_outbox{state} (pending, dead) and jitca_notification_oldest_pending_seconds.
 */
export function registerNotificationMetrics(
  registry: Registry,
  sources: { backlog: () => Promise<NotificationBacklog>; counters?: DeliveryCounters; now: () => number },
): void {
  new Counter({
    name: 'jitca_notification_deliveries_total',
    help: 'Notification delivery attempts by this replica, by sink and outcome (sent, failed, dead)',
    labelNames: ['sink', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      if (sources.counters === undefined) return;
      for (const { sink, outcome, count } of countsOf(sources.counters)) this.inc({ sink, outcome }, count);
    },
  });
  new Gauge({
    name: 'jitca_notification_outbox',
    help: 'Notifications in the outbox not yet sent (pending) or given up (dead)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const backlog = await sources.backlog();
      this.set({ state: 'pending' }, backlog.pending);
      this.set({ state: 'dead' }, backlog.dead);
    },
  });
  new Gauge({
    name: 'jitca_notification_oldest_pending_seconds',
    help: 'Age of the oldest notification not yet sent (0 when none waits)',
    registers: [registry],
    async collect() {
      const oldest = (await sources.backlog()).oldestPendingAt;
      this.set(oldest === undefined ? 0 : Math.max(0, (sources.now() - Date.parse(oldest)) / 1000));
    },
  });
}
