/**
 * What jitca publishes in a cluster for its trusted generations, and the changes that bring the
 * cluster there: pure (trust-publisher.ts reads and writes, this decides).
 */

/** Every object jitca publishes carries these labels; stale ones are found by them. */
export const TRUST_LABELS = { 'app.kubernetes.io/managed-by': 'jitca', 'jitca.dev/trust-bundle': 'kube-client' } as const;
export const TRUST_LABEL_SELECTOR = Object.entries(TRUST_LABELS).map(([key, value]) => `${key}=${value}`).join(',');

export interface PublishedGeneration {
  generation: number;
  certificatePem: string;
}

/** The ConfigMap's data: the kube-client PEM bundle and the sshd TrustedUserCAKeys lines. */
export function trustConfigMapData(kubeGenerations: readonly PublishedGeneration[], sshdLines: string): Record<string, string> {
  return { 'kube-client-ca.pem': kubeGenerations.map((generation) => generation.certificatePem).join(''), 'ssh-user-ca.pub': sshdLines };
}

/**
 * A ClusterTrustBundle with spec.signerName set must be named `<signerName, "/" replaced by ":">:`
 * followed by anything (certificates.k8s.io ClusterTrustBundle API reference): so
 * `jitca.dev:debug-client:3` for generation 3.
 */
export function clusterTrustBundleName(signerName: string, generation: number): string {
  return `${signerName.replaceAll('/', ':')}:${generation}`;
}

export interface ExistingBundle {
  name: string;
  trustBundle: string;
  signerName?: string;
  resourceVersion?: string;
}

export interface DesiredBundle {
  name: string;
  trustBundle: string;
  signerName: string;
}

export interface BundleChanges {
  create: DesiredBundle[];
  /** With the existing object's resourceVersion: a concurrent change makes the update a 409. */
  update: Array<DesiredBundle & { resourceVersion?: string }>;
  /** jitca-labelled bundles of no trusted generation (retired), removed. */
  remove: string[];
}

export function desiredClusterTrustBundles(signerName: string, kubeGenerations: readonly PublishedGeneration[]): DesiredBundle[] {
  return kubeGenerations.map((generation) => ({ name: clusterTrustBundleName(signerName, generation.generation), trustBundle: generation.certificatePem, signerName }));
}

/** `existing` are the objects carrying TRUST_LABELS: anything else in the cluster is never touched. */
export function planClusterTrustBundles(desired: readonly DesiredBundle[], existing: readonly ExistingBundle[]): BundleChanges {
  const byName = new Map(existing.map((bundle) => [bundle.name, bundle]));
  const wanted = new Set(desired.map((bundle) => bundle.name));
  return {
    create: desired.filter((bundle) => !byName.has(bundle.name)),
    update: desired.flatMap((bundle) => {
      const current = byName.get(bundle.name);
      if (current === undefined || (current.trustBundle === bundle.trustBundle && current.signerName === bundle.signerName)) return [];
      return [{ ...bundle, ...(current.resourceVersion === undefined ? {} : { resourceVersion: current.resourceVersion }) }];
    }),
    remove: existing.filter((bundle) => !wanted.has(bundle.name)).map((bundle) => bundle.name),
  };
}
