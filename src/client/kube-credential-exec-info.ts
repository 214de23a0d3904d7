import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * The client-go exec credential protocol (k8s.io/client-go/pkg/apis/clientauthentication, KEP-541):
 * kubectl runs the plugin with KUBERNETES_EXEC_INFO holding an ExecCredential "request" and reads
 * an ExecCredential "response" of the same apiVersion from stdout. v1alpha1 left client-go in 1.24.
 */
export const EXEC_CREDENTIAL_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;
export type ExecCredentialApiVersion = (typeof EXEC_CREDENTIAL_API_VERSIONS)[number];

/** What kubectl asks when it runs without KUBERNETES_EXEC_INFO (by hand, or an old client). */
export const DEFAULT_EXEC_CREDENTIAL_API_VERSION: ExecCredentialApiVersion = 'client.authentication.k8s.io/v1';

/** spec.cluster, sent only when the kubeconfig user sets provideClusterInfo: true. */
export interface ExecClusterInfo {
  server: string;
  tlsServerName?: string;
  insecureSkipTlsVerify?: boolean;
  /** base64 PEM bundle, as in the kubeconfig cluster. */
  certificateAuthorityData?: string;
  proxyUrl?: string;
  /** The cluster's extensions["client.authentication.k8s.io/exec"], passed through unread. */
  config?: unknown;
}

export interface ExecCredentialRequest {
  apiVersion: ExecCredentialApiVersion;
  /** True when kubectl connected the plugin's stdin to the user's terminal. */
  interactive: boolean;
  cluster?: ExecClusterInfo;
}

/** The response body: a client certificate, never a token (the apiserver maps CN/O to user/groups). */
export interface ExecCredentialResponse {
  apiVersion: ExecCredentialApiVersion;
  kind: 'ExecCredential';
  status: {
    /** RFC 3339; client-go reruns the plugin once this has passed. */
    expirationTimestamp: string;
    clientCertificateData: string;
    clientKeyData: string;
  };
}

/** Only the name is ever quoted back: the value may be large or hold something kubectl put there. */
const EXEC_INFO = 'KUBERNETES_EXEC_INFO';

/**
 * Reads KUBERNETES_EXEC_INFO. Absent or empty means "no request": v1, not interactive.
 * Errors: ERR_REQUEST_INVALID when it is not JSON, not an ExecCredential, names an apiVersion
 * jitca does not answer (details.allowed lists the ones it does), or has mistyped spec fields.
 */
export function parseExecCredentialRequest(raw: string | undefined): ExecCredentialRequest {
  if (raw === undefined || raw.trim() === '') return { apiVersion: DEFAULT_EXEC_CREDENTIAL_API_VERSION, interactive: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid(`${EXEC_INFO} is not JSON; kubectl sets it to an ExecCredential object`);
  }
  if (!isObject(parsed)) throw invalid(`${EXEC_INFO} must be a JSON object (an ExecCredential)`);
  if (parsed['kind'] !== 'ExecCredential') throw invalid(`${EXEC_INFO} kind must be "ExecCredential"`);
  const apiVersion = parsed['apiVersion'];
  if (!isSupportedVersion(apiVersion)) {
    throw invalid(`${EXEC_INFO} apiVersion ${describe(apiVersion)} is not supported; use one of ${EXEC_CREDENTIAL_API_VERSIONS.join(', ')}`, {
      apiVersion: typeof apiVersion === 'string' ? apiVersion.slice(0, 100) : null,
      allowed: [...EXEC_CREDENTIAL_API_VERSIONS],
    });
  }
  const spec = parsed['spec'] ?? {};
  if (!isObject(spec)) throw invalid(`${EXEC_INFO} spec must be an object`);
  const interactive = spec['interactive'] ?? false;
  if (typeof interactive !== 'boolean') throw invalid(`${EXEC_INFO} spec.interactive must be true or false`);
  const cluster = spec['cluster'];
  return cluster === undefined || cluster === null ? { apiVersion, interactive } : { apiVersion, interactive, cluster: readCluster(cluster) };
}

/** The answer on stdout: same apiVersion as asked (client-go refuses any other), PEM as text. */
export function execCredentialResponse(
  apiVersion: ExecCredentialApiVersion,
  credential: { certificatePem: string; privateKeyPem: string; notAfter: Date },
): ExecCredentialResponse {
  return {
    apiVersion,
    kind: 'ExecCredential',
    status: {
      expirationTimestamp: rfc3339Seconds(credential.notAfter),
      clientCertificateData: credential.certificatePem,
      clientKeyData: credential.privateKeyPem,
    },
  };
}

/** metav1.Time marshals whole seconds in UTC; certificate validity has no finer grain either. */
function rfc3339Seconds(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function readCluster(value: unknown): ExecClusterInfo {
  if (!isObject(value)) throw invalid(`${EXEC_INFO} spec.cluster must be an object`);
  const server = value['server'];
  if (typeof server !== 'string' || server === '') throw invalid(`${EXEC_INFO} spec.cluster.server must be a non-empty string`);
  const cluster: ExecClusterInfo = { server };
  const strings = { 'tls-server-name': 'tlsServerName', 'certificate-authority-data': 'certificateAuthorityData', 'proxy-url': 'proxyUrl' } as const;
  for (const [wire, field] of Object.entries(strings) as Array<[keyof typeof strings, (typeof strings)[keyof typeof strings]]>) {
    const item = value[wire];
    if (item === undefined || item === null) continue;
    if (typeof item !== 'string') throw invalid(`${EXEC_INFO} spec.cluster.${wire} must be a string`);
    cluster[field] = item;
  }
  const insecure = value['insecure-skip-tls-verify'];
  if (insecure !== undefined && insecure !== null) {
    if (typeof insecure !== 'boolean') throw invalid(`${EXEC_INFO} spec.cluster.insecure-skip-tls-verify must be true or false`);
    cluster.insecureSkipTlsVerify = insecure;
  }
  if (value['config'] !== undefined) cluster.config = value['config'];
  return cluster;
}

function isSupportedVersion(value: unknown): value is ExecCredentialApiVersion {
  return typeof value === 'string' && (EXEC_CREDENTIAL_API_VERSIONS as readonly string[]).includes(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 100)) : 'missing';
}

function invalid(message: string, details?: Record<string, unknown>): JitcaError {
  return new JitcaError(ErrorCodes.REQUEST_INVALID, message, details === undefined ? {} : { details });
}
