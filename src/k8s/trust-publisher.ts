/**
 * Publishes the Kubernetes client CA's trusted generations in a cluster (config
 * kubernetesPublishing, off by default): a ConfigMap in each configured namespace (the PEM bundle
 * and the sshd lines), and one ClusterTrustBundle per generation when the cluster serves the API
 * (certificates.k8s.io v1, else v1beta1: found by discovery; neither: skipped with a logged
 * reason). Reconciled on every keyring change; what to change is decided by trust-objects.ts.
 */
import { CertificatesApi, KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { ErrorCodes, isJitcaError } from '../errors.ts';
import { toKubeError } from './kube-client.ts';
import type { ControllerLogger } from './logger.ts';
import {
  TRUST_LABELS,
  TRUST_LABEL_SELECTOR,
  desiredClusterTrustBundles,
  planClusterTrustBundles,
  trustConfigMapData,
  type ExistingBundle,
  type PublishedGeneration,
} from './trust-objects.ts';

export interface TrustPublishingSettings {
  configMapNamespaces: readonly string[];
  configMapName: string;
  clusterTrustBundles: boolean;
}

export interface TrustMaterial {
  /** Trusted kube-client generations with their CA certificates, oldest first. */
  kubeGenerations: PublishedGeneration[];
  /** TrustedUserCAKeys content. */
  sshdLines: string;
}

export interface PublishSummary {
  configMaps: Array<{ namespace: string; outcome: 'created' | 'updated' | 'unchanged' }>;
  clusterTrustBundles: { apiVersion: string; created: string[]; updated: string[]; removed: string[] } | { skipped: string };
}

/** A 409 means another writer (a replica, a person) changed the object since it was read: read again. */
const CONFLICT_ATTEMPTS = 3;
const CTB_VERSIONS = ['v1', 'v1beta1'] as const;

/** KubernetesObjectApi with its discovery call opened up: whether a group version serves a kind. */
class DiscoveringObjectApi extends KubernetesObjectApi {
  async serves(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.resource(apiVersion, kind)) !== undefined;
  }
}

export function createTrustPublisher(options: { kubeConfig: KubeConfig; settings: TrustPublishingSettings; signerName: string; log: ControllerLogger }) {
  const objects = options.kubeConfig.makeApiClient(DiscoveringObjectApi);
  const certificates = options.kubeConfig.makeApiClient(CertificatesApi);
  const { settings, log } = options;

  async function call<T>(what: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw toKubeError(error, what);
    }
  }
  const isAlreadyExists = (error: unknown) => isJitcaError(error, ErrorCodes.KUBE_CONFLICT) && (error.details as { reason?: unknown } | undefined)?.reason === 'AlreadyExists';
  const isStatus = (error: unknown, status: number) => isJitcaError(error) && (error.details as { status?: unknown } | undefined)?.status === status;

  async function withConflictRetry<T>(action: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await action();
      } catch (error) {
        if (!isJitcaError(error, ErrorCodes.KUBE_CONFLICT) || attempt >= CONFLICT_ATTEMPTS) throw error;
      }
    }
  }

  async function reconcileConfigMap(namespace: string, data: Record<string, string>): Promise<'created' | 'updated' | 'unchanged'> {
    const identity = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: settings.configMapName, namespace } };
    return withConflictRetry(async () => {
      const current = await call(`reading ConfigMap ${namespace}/${settings.configMapName}`, () => objects.read(identity)).catch((error: unknown) => {
        if (isStatus(error, 404)) return undefined;
        throw error;
      });
      const desired = { ...identity, metadata: { ...identity.metadata, labels: { ...TRUST_LABELS } }, data };
      if (current === undefined) {
        await call(`creating ConfigMap ${namespace}/${settings.configMapName}`, () => objects.create(desired));
        return 'created';
      }
      if (JSON.stringify((current as { data?: unknown }).data ?? {}) === JSON.stringify(data)) return 'unchanged';
      // The read resourceVersion makes the write conditional: a change in between is a 409, then read again.
      const resourceVersion = current.metadata?.resourceVersion;
      await call(`updating ConfigMap ${namespace}/${settings.configMapName}`, () =>
        objects.replace({ ...desired, metadata: { ...desired.metadata, ...(resourceVersion === undefined ? {} : { resourceVersion }) } }),
      );
      return 'updated';
    });
  }

  async function servedCtbVersion(): Promise<string | undefined> {
    const group = await call('discovering certificates.k8s.io', () => certificates.getAPIGroup());
    for (const version of CTB_VERSIONS) {
      if (!group.versions.some((served) => served.version === version)) continue;
      const apiVersion = `certificates.k8s.io/${version}`;
      if (await call(`discovering ${apiVersion}`, () => objects.serves(apiVersion, 'ClusterTrustBundle'))) return apiVersion;
    }
    return undefined;
  }

  async function reconcileBundles(apiVersion: string, generations: readonly PublishedGeneration[]) {
    const desired = desiredClusterTrustBundles(options.signerName, generations);
    return withConflictRetry(async () => {
      const list = await call('listing ClusterTrustBundles', () => objects.list(apiVersion, 'ClusterTrustBundle', undefined, undefined, undefined, undefined, undefined, TRUST_LABEL_SELECTOR));
      const existing: ExistingBundle[] = list.items.map((item) => {
        const spec = (item as KubernetesObject & { spec?: { trustBundle?: string; signerName?: string } }).spec ?? {};
        return {
          name: item.metadata?.name ?? '',
          trustBundle: spec.trustBundle ?? '',
          ...(spec.signerName === undefined ? {} : { signerName: spec.signerName }),
          ...(item.metadata?.resourceVersion === undefined ? {} : { resourceVersion: item.metadata.resourceVersion }),
        };
      });
      const plan = planClusterTrustBundles(desired, existing);
      const object = (bundle: { name: string; trustBundle: string; signerName: string; resourceVersion?: string }) => ({
        apiVersion,
        kind: 'ClusterTrustBundle',
        metadata: { name: bundle.name, labels: { ...TRUST_LABELS }, ...(bundle.resourceVersion === undefined ? {} : { resourceVersion: bundle.resourceVersion }) },
        spec: { signerName: bundle.signerName, trustBundle: bundle.trustBundle },
      });
      for (const bundle of plan.create) {
        await call(`creating ClusterTrustBundle ${bundle.name}`, () => objects.create(object(bundle))).catch(async (error: unknown) => {
          if (!isAlreadyExists(error)) throw error;
          // Our name, made by someone else (another replica, or by hand without our labels): the
          // name is reserved for this signer's generation, so it is taken over at its current version.
          const current = await call(`reading ClusterTrustBundle ${bundle.name}`, () => objects.read({ apiVersion, kind: 'ClusterTrustBundle', metadata: { name: bundle.name } }));
          const resourceVersion = current.metadata?.resourceVersion;
          await call(`updating ClusterTrustBundle ${bundle.name}`, () => objects.replace(object({ ...bundle, ...(resourceVersion === undefined ? {} : { resourceVersion }) })));
        });
      }
      for (const bundle of plan.update) await call(`updating ClusterTrustBundle ${bundle.name}`, () => objects.replace(object(bundle)));
      for (const name of plan.remove) {
        await call(`removing ClusterTrustBundle ${name}`, () => objects.delete({ apiVersion, kind: 'ClusterTrustBundle', metadata: { name } })).catch((error: unknown) => {
          if (!isStatus(error, 404)) throw error;
        });
      }
      return { apiVersion, created: plan.create.map((bundle) => bundle.name), updated: plan.update.map((bundle) => bundle.name), removed: plan.remove };
    });
  }

  return {
    /** Brings the cluster to `material`. A failure is thrown as it happens (ERR_KUBE_*); the next keyring change, or the next start, reconciles again. */
    async reconcile(material: TrustMaterial): Promise<PublishSummary> {
      const data = trustConfigMapData(material.kubeGenerations, material.sshdLines);
      const configMaps: PublishSummary['configMaps'] = [];
      for (const namespace of settings.configMapNamespaces) configMaps.push({ namespace, outcome: await reconcileConfigMap(namespace, data) });
      if (!settings.clusterTrustBundles) return { configMaps, clusterTrustBundles: { skipped: 'kubernetesPublishing.clusterTrustBundles is off' } };
      const apiVersion = await servedCtbVersion();
      if (apiVersion === undefined) {
        const skipped = 'the cluster serves ClusterTrustBundle in neither certificates.k8s.io/v1 nor v1beta1 (beta APIs are off by default before 1.37)';
        log.info({ reason: skipped }, 'ClusterTrustBundles not published');
        return { configMaps, clusterTrustBundles: { skipped } };
      }
      const clusterTrustBundles = await reconcileBundles(apiVersion, material.kubeGenerations);
      log.info({ configMaps, clusterTrustBundles }, 'trust bundles published');
      return { configMaps, clusterTrustBundles };
    },
  };
}
