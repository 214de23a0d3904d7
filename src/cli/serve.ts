import type { Command } from 'commander';
import { buildAppFromConfig } from '../api/api-from-config.ts';
import { assertListenSafe } from '../api/listen-address.ts';
import { initializeCa, openCaRuntime, type CaRuntime } from '../ca-runtime.ts';
import { KEYRING_REFRESH_MS } from '../../rotation/ca-keyring.ts';
import { KRL_REFRESH_MS } from '../issuance/ssh-krl-cache.ts';
import { recordPolicyInForce } from '../issuance/policy-in-force.ts';
import { announceExpiringRequests } from '../issuance/expiring-requests.ts';
import { sweepExpiredRequests } from '../issuance/request-lifecycle.ts';
import { witnessAuditHead } from './audit-witness.ts';
import type { LeadershipStatus } from '../ha/leadership.ts';
import { checkLeaderTiming } from '../ha/leader-timing.ts';
import { runSingletonJobs, type SingletonJob, type SingletonJobs, type SingletonJobsLog } from '../ha/singleton-jobs.ts';
import { openPostgresDatabase } from '../store/postgres-database.ts';
import type { LeaderTerm } from '../ha/lease.ts';
import { createDeliveryCounters, createOutboxDelivery, type DeliveryCounters } from '../notify/outbox-delivery.ts';
import { loadWebhookSinks, type WebhookSink } from '../notify/webhook-sinks.ts';
import { stopOnSignals } from './common.ts';
import { reloadPolicyOnChange } from './policy-reload-triggers.ts';
import { rotationEngineFor } from '../../rotation/rotation-composition.ts';
import { scheduleRotation } from '../../rotation/rotation-scheduler.ts';
import { configFrom } from './config-from.ts';
import { runServeDemo } from './serve-demo.ts';
import { portValue } from './option-values.ts';

interface ServeOptions {
  port?: number;
  host?: string;
  demo?: boolean;
}


export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the CA API (initializes the embedded token and store on first start)')
    .option('--host <host>', 'listen address (default 127.0.0.1)')
    .option('--port <port>', 'listen port (default 8443)', portValue('--port'))
    .option('--demo', 'show the whole path at start-up: a demo local user logs in with its key and gets a certificate over the API')
    .action(async (options: ServeOptions, command: Command) => {
      const config = await configFrom(command);
      const host = options.host ?? config.server.host;
      assertListenSafe(host, config.server);
      const { created } = await initializeCa(config);
      for (const item of created) process.stdout.write(`created ${item}\n`);
      const runtime = await openCaRuntime(config);
      await recordPolicyInForce(runtime.store, { version: runtime.policyInForce.current(), file: config.policyFile, process: 'serve', reason: 'start' });
      if (config.oidc === undefined && !config.localIdentities.enabled) {
        process.stderr.write('jitca: no "oidc" configured and localIdentities off: the API serves trust bundles and health only; issue with `jitca issue-ssh`\n');
      } else if (config.oidc === undefined) {
        process.stderr.write('jitca: no "oidc" configured: engineers log in as local identities (`jitca users add`, then `jitca login --local`)\n');
      }
      let singletons: SingletonJobs | undefined;
      // Read and checked now: a bad webhook URL or secret file stops serve instead of every delivery.
      const webhooks = loadWebhookSinks(config.notifications);
      const notificationCounters = createDeliveryCounters();
      const app = await buildAppFromConfig(runtime, config, undefined, { leadership: () => singletons?.status() ?? NOT_STARTED, notificationCounters });
      // A rotation recorded by another process (or replica) takes effect here within this interval.
      runtime.keyring.watch(KEYRING_REFRESH_MS, (error: unknown) => app.log.warn({ err: error }, 'CA keyring refresh failed'));
      // A revocation recorded by `jitca revoke` or another replica reaches the KRL within this interval
      // (every replica polls: each serves its own KRL, so this is not a singleton job).
      runtime.sshKrl.watch(KRL_REFRESH_MS, (error: unknown) => app.log.warn({ err: error }, 'KRL revocation poll failed'));
      const leaseDatabase = config.store.postgresUrl === undefined ? undefined : openPostgresDatabase(config.store.postgresUrl, { maxConnections: 2 });
      const timing = checkLeaderTiming({ leaseMs: config.store.leaderLeaseMs, renewDeadlineMs: config.store.leaderRenewDeadlineMs, retryMs: config.store.leaderRetryMs });
      // SIGHUP or a save of the policy file: the next request decides under the new policy.
      const policyReload = reloadPolicyOnChange(runtime, 'serve', app.log);
      const notifier = { webhooks, counters: notificationCounters };
      singletons = runSingletonJobs({ jobs: singletonJobs(runtime, app.log, notifier), store: runtime.store, log: app.log, leaseDatabase, timing });
      stopOnSignals(async () => {
        policyReload.stop();
        await app.close();
        await singletons?.stop();
        await leaseDatabase?.destroy();
        await runtime.close();
      });
      const address = await app.listen({ host, port: options.port ?? config.server.port });
      if (options.demo === true) await runServeDemo(runtime, address, (text) => process.stdout.write(text));
    });
}

const NOT_STARTED: LeadershipStatus = { mode: 'elected', leading: false, term: undefined, transitions: { started: 0, stopped: 0 } };

/** The jobs one replica runs for all (src/ha): with PostgreSQL, the leader's; with SQLite, this process's. */
function singletonJobs(runtime: CaRuntime, log: SingletonJobsLog, notifier: { webhooks: WebhookSink[]; counters: DeliveryCounters }): SingletonJob[] {
  return [
    // The outbox's sender, when webhooks are configured (without them no rows are written).
    ...(notifier.webhooks.length === 0
      ? []
      : [
          {
            name: 'notification-delivery',
            start: (leader?: LeaderTerm) => {
              const { webhooks: _webhooks, ...settings } = runtime.config.notifications;
              return createOutboxDelivery({ store: runtime.store, sinks: notifier.webhooks, settings, policy: () => runtime.policyInForce.current().policy, clock: runtime.clock, log, counters: notifier.counters, leader }).start();
            },
          },
        ]),
    {
      // Pending requests past their approval window are expired (and audited) within a minute, and
      // those near its end are announced once (notifications.expiringNoticeSeconds).
      name: 'expiry-sweeper',
      start: () => {
        const sweeper = setInterval(() => {
          sweepExpiredRequests(runtime.sshIssuance)
            .then(() => announceExpiringRequests(runtime.sshIssuance, runtime.config.notifications.expiringNoticeSeconds))
            .catch((error: unknown) => log.warn({ err: error }, 'expiry sweep failed'));
        }, 60_000);
        sweeper.unref();
        return async () => clearInterval(sweeper);
      },
    },
    {
      // The audit head goes to the logs once a minute (when it moved): anchors kept outside the database.
      name: 'audit-witness',
      start: () => {
        const witness = witnessAuditHead(runtime.store, log, 60_000);
        return () => witness.stop();
      },
    },
    // The rotation schedule, unless a CronJob (`jitca rotate apply`) runs it instead; the store's
    // rotation lock keeps it single even beside the CronJob or a hand-run apply.
    ...(runtime.config.rotation.inServe
      ? [
          {
            name: 'rotation-schedule',
            start: () => {
              const schedule = scheduleRotation(rotationEngineFor(runtime, 'system:schedule', { lockWaitMs: 0 }), () => runtime.keyring.refresh(), log);
              return () => schedule.stop();
            },
          },
        ]
      : []),
  ];
}
