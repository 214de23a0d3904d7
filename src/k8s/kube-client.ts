/**
 * Kubernetes API access for the CSR controller, through @kubernetes/client-node: KubeConfig set-up
 * (in cluster, a kubeconfig file, or server + token + CA for tests and out-of-cluster runs) and
 * the few certificates.k8s.io/v1 calls the controller makes, with failures turned into
 * JitcaErrors (ERR_KUBE_CONFLICT, ERR_KUBE_UNAVAILABLE, ERR_KUBE_REQUEST_FAILED).
 */
import { ApiException, CertificatesV1Api, KubeConfig, Watch, type RequestContext, type V1CertificateSigningRequest } from '@kubernetes/client-node';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { csrFromWire } from './csr-wire.ts';
import { loadMergedKubeconfig } from './kubeconfig-sources.ts';

export type Csr = V1CertificateSigningRequest;

export type KubeConnection =
  /** The pod's service account: token, CA and KUBERNETES_SERVICE_HOST/PORT. */
  | { kind: 'in-cluster' }
  /** kubeconfig files, merged as kubectl merges them (kubeconfig-sources.ts chooses them). */
  | { kind: 'kubeconfig'; paths: string[]; context?: string }
  /** Explicit server URL and bearer token; the CA PEM, when given, is the only trust anchor. */
  | { kind: 'token'; server: string; token: string; caPem?: string };

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * client-node 2.0 builds a new undici Agent in every applySecurityAuthentication, i.e. for every
 * call, so no connection is ever reused: each request paid a full TLS handshake (measured here:
 * about 4 ms of CPU per request, 2 requests per CSR). This keeps the first Agent built for the
 * current context and hands it to every later request. The Agent carries only TLS settings (CA,
 * client certificate); the bearer token is still set per request, so token rotation keeps working.
 */
class ConnectionReusingKubeConfig extends KubeConfig {
  #dispatchers = new Map<string, Dispatcher>();

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (fresh === undefined) return;
    const key = this.getCurrentContext();
    const kept = this.#dispatchers.get(key);
    if (kept === undefined) this.#dispatchers.set(key, fresh);
    else {
      context.setDispatcher(kept);
      void fresh.close().catch(() => undefined); // never connected: nothing to drain
    }
  }
}

export function createKubeConfig(connection: KubeConnection): KubeConfig {
  const kubeConfig = new ConnectionReusingKubeConfig();
  try {
    switch (connection.kind) {
      case 'in-cluster':
        kubeConfig.loadFromCluster();
        break;
      case 'kubeconfig':
        loadMergedKubeconfig(kubeConfig, connection.paths);
        if (connection.context !== undefined) kubeConfig.setCurrentContext(connection.context);
        break;
      case 'token':
        kubeConfig.loadFromOptions({
          clusters: [
            {
              name: 'cluster',
              server: connection.server,
              skipTLSVerify: false,
              ...(connection.caPem === undefined ? {} : { caData: Buffer.from(connection.caPem, 'utf8').toString('base64') }),
            },
          ],
          users: [{ name: 'jitca', token: connection.token }],
          contexts: [{ name: 'jitca', cluster: 'cluster', user: 'jitca' }],
          currentContext: 'jitca',
        });
        break;
    }
  } catch (error) {
    if (isJitcaError(error)) throw error;
    // The message of a kubeconfig parse error can quote the file; say only which source failed.
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `Kubernetes client configuration (${connection.kind}) could not be loaded`, { cause: error });
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `Kubernetes client configuration (${connection.kind}) names no current cluster`);
  }
  return kubeConfig;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchHandlers {
  /** `object` is a CSR (ADDED/MODIFIED/DELETED), a bookmark stub, or a metav1.Status (ERROR). */
  onEvent(type: WatchEventType, object: unknown): void;
  /** The stream ended: cleanly (undefined) or with an error (HTTP status, socket reset, timeout). */
  onClose(error: JitcaError | undefined): void;
}

export interface WatchHandle {
  abort(): void;
}

export interface CsrApi {
  list(): Promise<{ items: Csr[]; resourceVersion: string }>;
  read(name: string): Promise<Csr>;
  /** PUT .../{name}/approval: only status.conditions change (strategy.go). */
  replaceApproval(csr: Csr): Promise<Csr>;
  /** PUT .../{name}/status: status.certificate and non-approval conditions. */
  replaceStatus(csr: Csr): Promise<Csr>;
  /** GET ...?watch=true from `resourceVersion` with bookmarks; ends after timeoutSeconds (server side). */
  watch(resourceVersion: string, timeoutSeconds: number, handlers: WatchHandlers): Promise<WatchHandle>;
}

const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

export interface CsrApiOptions {
  /** A watch that receives nothing for this long beyond its timeoutSeconds is cut (default 30 s extra). */
  watchInactivityGraceMs?: number;
}

export function createCsrApi(kubeConfig: KubeConfig, options: CsrApiOptions = {}): CsrApi {
  const api = kubeConfig.makeApiClient(CertificatesV1Api);
  const watcher = new Watch(kubeConfig);
  const grace = options.watchInactivityGraceMs ?? 30_000;

  async function call<T>(what: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw toKubeError(error, what);
    }
  }

  return {
    async list() {
      const list = await call('list CertificateSigningRequests', () => api.listCertificateSigningRequest());
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    read: (name) => call(`read CertificateSigningRequest ${name}`, () => api.readCertificateSigningRequest({ name })),
    replaceApproval: (csr) =>
      call(`update approval of CertificateSigningRequest ${csr.metadata?.name ?? ''}`, () =>
        api.replaceCertificateSigningRequestApproval({ name: csr.metadata?.name ?? '', body: csr }),
      ),
    replaceStatus: (csr) =>
      call(`update status of CertificateSigningRequest ${csr.metadata?.name ?? ''}`, () =>
        api.replaceCertificateSigningRequestStatus({ name: csr.metadata?.name ?? '', body: csr }),
      ),
    async watch(resourceVersion, timeoutSeconds, handlers) {
      // Watch cuts a stream that is silent for requestTimeoutMs (30 s by default, declared private in
      // its typings): stretch it past the server-side timeout, or quiet clusters reconnect every 30 s.
      (watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = timeoutSeconds * 1000 + grace;
      const controller = await watcher.watch(
        CSR_PATH,
        { resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        (type: string, object: unknown) => {
          if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') handlers.onEvent(type, csrFromWire(object));
          else if (type === 'BOOKMARK' || type === 'ERROR') handlers.onEvent(type, object);
        },
        (error: unknown) => handlers.onClose(error === null || error === undefined ? undefined : toKubeError(error, 'watch CertificateSigningRequests')),
      );
      return { abort: () => controller.abort() };
    },
  };
}

/** metav1.Status fields safe to carry in error details (the Status message names objects, never credentials). */
function statusOf(body: unknown): { reason?: string; message?: string } {
  if (typeof body !== 'string' || body.length === 0 || body.length > 65536) return {};
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; reason?: unknown; message?: unknown };
    if (parsed.kind !== 'Status') return {};
    return {
      ...(typeof parsed.reason === 'string' ? { reason: parsed.reason } : {}),
      ...(typeof parsed.message === 'string' ? { message: parsed.message.slice(0, 1024) } : {}),
    };
  } catch {
    return {};
  }
}

export function toKubeError(error: unknown, what: string): JitcaError {
  if (error instanceof JitcaError) return error;
  const status =
    error instanceof ApiException
      ? (error.code as number)
      : typeof (error as { statusCode?: unknown } | null)?.statusCode === 'number'
        ? (error as { statusCode: number }).statusCode
        : undefined;
  if (status === undefined) {
    const name = error instanceof Error ? error.name : 'Error';
    return new JitcaError(ErrorCodes.KUBE_UNAVAILABLE, `${what}: the apiserver could not be reached (${name})`, { retryable: true, cause: error });
  }
  const { reason, message } = error instanceof ApiException ? statusOf(error.body) : {};
  const details = { status, ...(reason === undefined ? {} : { reason }) };
  const text = `${what}: ${status}${reason === undefined ? '' : ` ${reason}`}${message === undefined ? '' : `: ${message}`}`;
  if (status === 409) return new JitcaError(ErrorCodes.KUBE_CONFLICT, text, { retryable: true, details });
  if (status === 410) return new JitcaError(ErrorCodes.KUBE_REQUEST_FAILED, text, { details: { ...details, reason: reason ?? 'Expired' } });
  if (status === 429 || status >= 500) return new JitcaError(ErrorCodes.KUBE_UNAVAILABLE, text, { retryable: true, details });
  return new JitcaError(ErrorCodes.KUBE_REQUEST_FAILED, text, { details });
}

/** True for a 410 Gone/Expired from the apiserver: the resourceVersion is too old, list again. */
export function isExpired(error: unknown): boolean {
  return error instanceof JitcaError && (error.details as { status?: unknown } | undefined)?.status === 410;
}
