import type { Command } from 'commander';
import { pino } from 'pino';
import { openCaRuntime } from '../ca-runtime.ts';
import { KEYRING_REFRESH_MS } from '../../rotation/ca-keyring.ts';
import { recordPolicyInForce } from '../issuance/policy-in-force.ts';
import { createCsrController } from '../k8s/csr-controller.ts';
import { createKubeConfig } from '../k8s/kube-client.ts';
import { startTrustPublishing } from '../k8s/trust-publishing.ts';
import { chooseKubeConnection } from '../k8s/kubeconfig-sources.ts';
import { stopOnSignals } from './common.ts';
import { configFrom } from './config-from.ts';

interface ControllerOptions {
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
}

export function registerController(program: Command): void {
  program
    .command('controller')
    .description('watch Kubernetes CertificateSigningRequests: approve/deny by policy, sign jitca\'s signerName with the HSM client CA')
    .option('--kubeconfig <file>', 'kubeconfig to reach the API server (default: as kubectl: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context')
    .option('--in-cluster', "use the pod's service account")
    .action(async (options: ControllerOptions, command: Command) => {
      const config = await configFrom(command);
      // The environment is read here, once: the connection is fixed for the life of the process.
      const { KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT } = process.env;
      const connection = chooseKubeConnection(options, { KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT });
      const runtime = await openCaRuntime(config);
      await recordPolicyInForce(runtime, 'controller');
      const logger = pino({ level: config.server.logLevel, redact: ['*.token', '*.pin', '*.request', '*.certificate'] });
      // activeCa is read per CSR: a rotation recorded by `serve` or another replica signs the next one.
      runtime.keyring.watch(KEYRING_REFRESH_MS, (error: unknown) => logger.warn({ err: error }, 'CA keyring refresh failed'));
      const kubeConfig = createKubeConfig(connection);
      const stopPublishing = config.kubernetesPublishing.enabled
        ? startTrustPublishing({ config, keyring: runtime.keyring, kubeConfig, logger })
        : () => undefined;
      const controller = createCsrController({
        kubeConfig,
        policy: runtime.policy,
        store: runtime.store,
        activeCa: () => runtime.kubeCa,
        clock: runtime.clock,
        signerNames: { jitca: [config.kubernetes.signerName], kubeApiserverClient: config.kubernetes.approveKubeApiserverClient },
        logger,
        backdateSeconds: config.ssh.backdateSeconds,
        clusterName: config.kubernetes.clusterName,
      });
      stopOnSignals(async () => {
        stopPublishing();
        await controller.stop();
        await runtime.close();
      });
      await controller.start();
    });
}
