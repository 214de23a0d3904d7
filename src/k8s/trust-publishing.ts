import type { KubeConfig } from '@kubernetes/client-node';
import type { CaKeyring } from '../../rotation/ca-keyring.ts';
import type { JitcaConfig } from '../config.ts';
import { loadKubeClientCa } from '../issuance/kube-client-ca.ts';
import { sshTrustBundle } from '../issuance/trust-bundle.ts';
import { describeError, type ControllerLogger } from './logger.ts';
import { createTrustPublisher, type TrustMaterial } from './trust-publisher.ts';

/** After a failed reconcile, try again this much later even if the keyring does not change. */
const RETRY_MS = 60_000;

/** What the keyring trusts now, as the publisher writes it. */
export function trustMaterialOf(config: JitcaConfig, keyring: Pick<CaKeyring, 'trusted'>): TrustMaterial {
  return {
    kubeGenerations: keyring
      .trusted('kube-client')
      .flatMap((generation) => {
        const ca = loadKubeClientCa(config, generation);
        return ca === undefined ? [] : [{ generation: generation.generation, certificatePem: ca.certificatePem }];
      }),
    sshdLines: sshTrustBundle({ keyring }),
  };
}

/**
 * Publishes once at start and again on every keyring change, one reconcile at a time (a change
 * during one runs another after it). A failure is logged and retried; it never stops the caller.
 * Returns the stop function.
 */
export function startTrustPublishing(options: { config: JitcaConfig; keyring: Pick<CaKeyring, 'trusted' | 'onChange'>; kubeConfig: KubeConfig; logger: ControllerLogger }): () => void {
  const publisher = createTrustPublisher({
    kubeConfig: options.kubeConfig,
    settings: options.config.kubernetesPublishing,
    signerName: options.config.kubernetes.signerName,
    log: options.logger,
  });
  let running = false;
  let again = false;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;

  async function run(): Promise<void> {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(retry);
    try {
      await publisher.reconcile(trustMaterialOf(options.config, options.keyring));
    } catch (error) {
      options.logger.warn(describeError(error), 'publishing trust bundles failed; retrying');
      retry = setTimeout(() => void run(), RETRY_MS);
      retry.unref();
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      await run();
    }
  }

  const unsubscribe = options.keyring.onChange(() => void run());
  void run();
  return () => {
    stopped = true;
    unsubscribe();
    clearTimeout(retry);
  };
}
