import { X509Certificate } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseDuration } from '../policy/duration.ts';
import { OPERATION_NAMES } from '../policy/operations.ts';
import type { OperationName } from '../policy/types.ts';
import { DEFAULT_EXEC_CREDENTIAL_API_VERSION } from './kube-credential-exec-info.ts';
import { checkClusterName } from './kube-credential-cache.ts';

export interface KubeconfigParams {
  /** jitca's cluster name: the policy scope, and the kubeconfig cluster/user/context names. */
  cluster: string;
  /** The kube-apiserver URL, e.g. https://kube-api:6443. */
  server: string;
  /** PEM bundle that signed the apiserver's serving certificate; embedded, so the file can move. */
  certificateAuthorityPem?: string;
  ttl?: string;
  /** Absolute path of the helper configuration, passed on to the plugin when not the default. */
  clientConfigFile?: string;
  /** The plugin kubectl runs: absolute path of bin/jitca, or "jitca" when it is on PATH. */
  command: string;
  namespace?: string;
  /**
   * Operations the plugin asks for (`kube-credential --operation`); default the least the role
   * allows. Named in the user and context (jitca-prod-exec), so contexts for different operations
   * sit side by side and kubectl --context picks the access needed.
   */
  operations?: string[];
}

/** A kubeconfig (k8s.io/client-go/tools/clientcmd/api/v1 Config) with one cluster, user and context. */
export interface Kubeconfig {
  apiVersion: 'v1';
  kind: 'Config';
  clusters: Array<{ name: string; cluster: { server: string; 'certificate-authority-data'?: string } }>;
  users: Array<{ name: string; user: { exec: KubeconfigExec } }>;
  contexts: Array<{ name: string; context: { cluster: string; user: string; namespace?: string } }>;
  'current-context': string;
}

export interface KubeconfigExec {
  apiVersion: string;
  command: string;
  args: string[];
  /** Never: the plugin does not read stdin, so kubectl works without a terminal (CI, pipes). */
  interactiveMode: 'Never';
  provideClusterInfo: false;
  /** Shown by kubectl when it cannot find `command`. */
  installHint: string;
}

/**
 * The kubeconfig snippet `jitca kubeconfig` prints: an exec user (client.authentication.k8s.io/v1)
 * running `jitca kube-credential`, so kubectl presents a short-lived jitca client certificate.
 * Errors: ERR_REQUEST_INVALID for a bad cluster name, server URL or CA bundle; ERR_TTL_INVALID.
 */
export function buildKubeconfig(params: KubeconfigParams): Kubeconfig {
  const cluster = checkClusterName(params.cluster);
  checkServer(params.server);
  if (params.ttl !== undefined) parseDuration(params.ttl);
  const operations = checkOperations(params.operations ?? []);
  const name = [`jitca-${cluster}`, ...operations].join('-');
  const args = ['kube-credential', '--cluster', cluster];
  if (params.ttl !== undefined) args.push('--ttl', params.ttl);
  for (const operation of operations) args.push('--operation', operation);
  if (params.clientConfigFile !== undefined) args.push('--client-config', params.clientConfigFile);
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: {
          server: params.server,
          ...(params.certificateAuthorityPem === undefined ? {} : { 'certificate-authority-data': caData(params.certificateAuthorityPem) }),
        },
      },
    ],
    users: [
      {
        name,
        user: {
          exec: {
            apiVersion: DEFAULT_EXEC_CREDENTIAL_API_VERSION,
            command: params.command,
            args,
            interactiveMode: 'Never',
            provideClusterInfo: false,
            installHint: 'this cluster needs jitca (the just-in-time certificate helper): install it, then run `jitca kubeconfig` again so the path is right',
          },
        },
      },
    ],
    contexts: [{ name, context: { cluster, user: name, ...(params.namespace === undefined ? {} : { namespace: params.namespace }) } }],
    'current-context': name,
  };
}

function checkServer(server: string): void {
  let url: URL | undefined;
  try {
    url = new URL(server);
  } catch {
    url = undefined;
  }
  if (url === undefined || url.protocol !== 'https:') {
    // Client certificates are only presented over TLS; an http:// apiserver would get nothing.
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'server must be an https:// URL of the kube-apiserver, e.g. https://kube-api:6443');
  }
}

/** Each block must be a certificate: a wrong file here would only surface as a TLS error later. */
function caData(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'certificate authority file holds no PEM CERTIFICATE block');
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'certificate authority file holds a CERTIFICATE block that does not parse');
    }
  }
  return Buffer.from(`${blocks.join('\n')}\n`).toString('base64');
}

/** Known operation names only (they go into kubectl's exec arguments and the context's name), once each. */
function checkOperations(operations: readonly string[]): OperationName[] {
  const unknown = operations.find((operation) => !(OPERATION_NAMES as readonly string[]).includes(operation));
  if (unknown !== undefined) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--operation ${JSON.stringify(unknown.slice(0, 40))} is not one of ${OPERATION_NAMES.join(', ')}`);
  }
  return [...new Set(operations as OperationName[])];
}
