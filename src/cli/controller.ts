import type { Command } from 'commander';
import { pino } from 'pino';
import { openCaRuntime } from '../ca-runtime.ts';
import { KEYRING_REFRESH_MS } from '../../rotation/ca-keyring.ts';
import { recordPolicyInForce } from '../issuance/policy-in-force.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { kubernetesLeaseBackend } from '../ha/kubernetes-lease.ts';
import { checkLeaderTiming } from '../ha/leader-timing.ts';
import type { LeaseBackend } from '../ha/lease.ts';
import { postgresLeaseBackend } from '../ha/postgres-lease.ts';
import { createCsrController } from '../k8s/csr-controller.ts';
import { runElectedCsrController } from '../k8s/csr-controller-election.ts';
import { openPostgresDatabase } from '../store/postgres-database.ts';
import { createKubeConfig } from '../k8s/kube-client.ts';
import { startTrustPublishing } from '../k8s/trust-publishing.ts';
import { startControllerMetricsServer } from '../k8s/controller-metrics-server.ts';
import { chooseKubeConnection } from '../k8s/kubeconfig-sources.ts';
import { stopOnSignals } from './common.ts';
import { reloadPolicyOnChange } from './policy-reload-triggers.ts';
import { configFrom } from './config-from.ts';

interface ControllerOptions {
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
  leaderElect?: string;
  metricsPort?: string;
  metricsAddress: string;
}

const LEADER_ELECTION = ['none', 'kubernetes-lease', 'postgres'] as const;
type LeaderElection = (typeof LEADER_ELECTION)[number];

function metricsPortOf(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new JitcaError(ErrorCodes.CONFIG_INVALID, '--metrics-port must be a port number (0-65535)');
  return port;
}

function leaderElectionOf(flag: string | undefined, configured: LeaderElection): LeaderElection {
  if (flag === undefined) return configured;
  if (!(LEADER_ELECTION as readonly string[]).includes(flag)) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `--leader-elect must be one of ${LEADER_ELECTION.join(', ')}`);
  }
  return flag as LeaderElection;
}

export function registerController(program: Command): void {
  program
    .command('controller')
    .description('watch Kubernetes CertificateSigningRequests: approve/deny by policy, sign jitca\'s signerName with the HSM client CA')
    .option('--kubeconfig <file>', 'kubeconfig to reach the API server (default: as kubectl: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option('--in-cluster', "use the pod's service account")
    .option('--leader-elect <backend>', 'which replica watches: none (every one), kubernetes-lease, postgres (default: kubernetes.leaderElection)')
    .option('--metrics-port <port>', 'serve /metrics (leader, term, transitions) and /healthz on this port')
    .option('--metrics-address <address>', 'the address for --metrics-port (default 127.0.0.1; 0.0.0.0 in a pod)', '127.0.0.1')
    .action(async (options: ControllerOptions, command: Command) => {
      const config = await configFrom(command);
      // The environment is read here, once: the connection is fixed for the life of the process.
      const { KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT } = process.env;
      const connection = chooseKubeConnection(options, { KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT });
      const election = leaderElectionOf(options.leaderElect, config.kubernetes.leaderElection);
      const metricsPort = options.metricsPort === undefined ? undefined : metricsPortOf(options.metricsPort);
      if (election === 'postgres' && config.store.postgresUrl === undefined) {
        throw new JitcaError(ErrorCodes.CONFIG_INVALID, '--leader-elect postgres needs store.postgresUrl (the lease lives in that database)');
      }
      const timing = checkLeaderTiming({ leaseMs: config.store.leaderLeaseMs, renewDeadlineMs: config.store.leaderRenewDeadlineMs, retryMs: config.store.leaderRetryMs });
      const runtime = await openCaRuntime(config);
      await recordPolicyInForce(runtime.store, { version: runtime.policyInForce.current(), file: config.policyFile, process: 'controller', reason: 'start' });
      const logger = pino({ level: config.server.logLevel, redact: ['*.token', '*.pin', '*.request', '*.certificate'] });
      // activeCa is read per CSR: a rotation recorded by `serve` or another replica signs the next one.
      runtime.keyring.watch(KEYRING_REFRESH_MS, (error: unknown) => logger.warn({ err: error }, 'CA keyring refresh failed'));
      // SIGHUP or a save of the policy file: the next CSR is decided under the new policy.
      const policyReload = reloadPolicyOnChange(runtime, 'controller', logger);
      const kubeConfig = createKubeConfig(connection);
      const leaseDatabase = election === 'postgres' && config.store.postgresUrl !== undefined ? openPostgresDatabase(config.store.postgresUrl, { maxConnections: 2 }) : undefined;
      const backend: LeaseBackend | undefined =
        election === 'kubernetes-lease'
          ? kubernetesLeaseBackend({ kubeConfig, namespace: config.kubernetes.leaseNamespace, requestTimeoutMs: timing.renewDeadlineMs })
          : leaseDatabase === undefined
            ? undefined
            : postgresLeaseBackend(leaseDatabase);
      const controller = runElectedCsrController({
        createController: () =>
          createCsrController({
            kubeConfig,
            // Read once per CSR decision: a reloaded policy decides the next one.
            policy: () => runtime.policyInForce.current().policy,
            store: runtime.store,
            activeCa: () => runtime.kubeCa,
            clock: runtime.clock,
            signerNames: { jitca: [config.kubernetes.signerName], kubeApiserverClient: config.kubernetes.approveKubeApiserverClient },
            logger,
            backdateSeconds: config.ssh.backdateSeconds,
            clusterName: config.kubernetes.clusterName,
          }),
        ...(backend === undefined ? {} : { lease: { backend, name: config.kubernetes.leaseName, timing } }),
        store: runtime.store,
        log: logger,
        // Every replica would write the same trust objects: the leader alone publishes them.
        alsoOnLeader: config.kubernetesPublishing.enabled
          ? [{ name: 'trust-publishing', start: () => startTrustPublishing({ config, keyring: runtime.keyring, kubeConfig, logger }) }]
          : [],
      });
      const metrics = metricsPort === undefined ? undefined : await startControllerMetricsServer({ host: options.metricsAddress, port: metricsPort, status: () => controller.status() });
      stopOnSignals(async () => {
        policyReload.stop();
        await metrics?.close();
        // A leader releases its lease here: another replica takes over at its next retry.
        await controller.stop();
        await leaseDatabase?.destroy();
        await runtime.close();
      });
    });
}
