/**
 * Where `jitca controller` finds its Kubernetes client configuration, by kubectl's rules
 * (client-go tools/clientcmd: ClientConfigLoadingRules and DeferredLoadingClientConfig):
 *
 * 1. --in-cluster: the pod's service account;
 * 2. --kubeconfig FILE: that file alone (a missing file is an error);
 * 3. $KUBECONFIG: a list of files separated by ':' (path.delimiter); empty entries and missing
 *    files are skipped, and the rest are merged: the first file to name a cluster, user or context
 *    keeps it, and the first file to set current-context decides it;
 * 4. ~/.kube/config, when $KUBECONFIG is unset or empty;
 * 5. when none of those yielded a file, the pod's service account, if this is a pod.
 *
 * @kubernetes/client-node's KubeConfig.loadFromDefault does not follow these rules: it throws on a
 * name defined in two files ("Duplicate cluster"), takes current-context from the last file (or,
 * with contextFromStartingConfig, only ever from the first), fails on a missing file in the list,
 * reads process.env itself, and ends at http://localhost:8080 when it finds nothing. Only its
 * per-file loader (loadFromFile: parse, and resolve relative paths against the file's directory)
 * is reused here.
 *
 * The environment comes in as an argument: the CLI reads it once, at start.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { KubeConnection } from './kube-client.ts';

export interface KubeConnectionFlags {
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
}

/** The only variables that decide it; taken from process.env by the CLI. */
export interface KubeConnectionEnvironment {
  KUBECONFIG?: string;
  HOME?: string;
  KUBERNETES_SERVICE_HOST?: string;
  KUBERNETES_SERVICE_PORT?: string;
}

/** client-go rest.InClusterConfig reads the token here; with the two variables set, this is a pod. */
export const SERVICE_ACCOUNT_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * The connection the rules above pick. Errors: ERR_CONFIG_INVALID when they pick nothing (no file
 * found and not in a pod), naming the places looked at.
 */
export function chooseKubeConnection(
  flags: KubeConnectionFlags,
  env: KubeConnectionEnvironment,
  exists: (file: string) => boolean = existsSync,
): KubeConnection {
  if (flags.inCluster === true) return { kind: 'in-cluster' };
  const context = flags.context === undefined ? {} : { context: flags.context };
  if (flags.kubeconfig !== undefined) return { kind: 'kubeconfig', paths: [flags.kubeconfig], ...context };

  const listed = (env.KUBECONFIG ?? '').split(path.delimiter).filter((file) => file !== '');
  const candidates = listed.length > 0 ? listed : env.HOME === undefined || env.HOME === '' ? [] : [path.join(env.HOME, '.kube', 'config')];
  const found = [...new Set(candidates)].filter((file) => exists(file));
  if (found.length > 0) return { kind: 'kubeconfig', paths: found, ...context };

  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && exists(SERVICE_ACCOUNT_TOKEN_PATH)) return { kind: 'in-cluster' };
  const looked = listed.length > 0 ? `$KUBECONFIG (${listed.join(', ')})` : candidates.length > 0 ? candidates[0]! : '~/.kube/config ($HOME is not set)';
  throw new JitcaError(
    ErrorCodes.CONFIG_INVALID,
    `no Kubernetes client configuration: no file found in ${looked}, and this is not a pod with a service account; use --kubeconfig FILE or --in-cluster`,
  );
}

/**
 * Loads the files into `target`, merged as kubectl merges them (first wins per name and for
 * current-context). A file that does not load is ERR_CONFIG_INVALID naming the file, never its
 * content (a parse error's message can quote it, credentials included).
 */
export function loadMergedKubeconfig(target: KubeConfig, files: readonly string[]): void {
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let currentContext: string | undefined;
  for (const file of files) {
    const one = new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (error) {
      throw new JitcaError(ErrorCodes.CONFIG_INVALID, `kubeconfig ${file} could not be loaded`, { cause: error });
    }
    for (const cluster of one.clusters) if (!clusters.has(cluster.name)) clusters.set(cluster.name, cluster);
    for (const user of one.users) if (!users.has(user.name)) users.set(user.name, user);
    for (const context of one.contexts) if (!contexts.has(context.name)) contexts.set(context.name, context);
    if (currentContext === undefined && one.currentContext) currentContext = one.currentContext;
  }
  target.loadFromOptions({ clusters: [...clusters.values()], users: [...users.values()], contexts: [...contexts.values()], currentContext: currentContext ?? '' });
}
