/**
 * The part of the Kubernetes API double (kube-api-double.ts) that jitca's trust publishing talks
 * to: discovery of certificates.k8s.io and of the core group, ConfigMaps, and ClusterTrustBundles
 * in the versions a test says the cluster serves (none, v1beta1, v1). Same rules as the real
 * apiserver where the publisher can notice: POST of an existing name is 409 AlreadyExists, PUT
 * with a stale metadata.resourceVersion is 409 Conflict, a ClusterTrustBundle with spec.signerName
 * must be named with the signer name (":" for "/") and ":" as prefix (422 otherwise), list filters
 * by equality labelSelector.
 */
import { KubeStatusError } from './kube-status.ts';

type Version = 'v1' | 'v1beta1';
interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface TrustObjectsDouble {
  /** True when the path is one of these routes (the double answers 404 for anything else). */
  handles(pathname: string): boolean;
  handle(method: string, url: URL, body: () => Promise<Record<string, unknown>>): Promise<{ code: number; body: unknown }>;
  configMap(namespace: string, name: string): StoredObject | undefined;
  clusterTrustBundles(): StoredObject[];
  /** Stores an object as another writer would (e.g. a bundle jitca does not manage). */
  put(object: Omit<StoredObject, 'metadata'> & { metadata: Omit<StoredObject['metadata'], 'resourceVersion'> }): void;
  /** The next `count` writes (PUT or POST) of that kind meet a concurrent change first: 409. */
  injectConflicts(kind: 'ConfigMap' | 'ClusterTrustBundle', count: number): void;
  readonly conflicts: number;
}

function status(code: number, reason: string, message: string): KubeStatusError {
  return new KubeStatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

export function createTrustObjectsDouble(options: { clusterTrustBundleVersions: readonly Version[] }): TrustObjectsDouble {
  const served = new Set(options.clusterTrustBundleVersions);
  const configMaps = new Map<string, StoredObject>();
  const bundles = new Map<string, StoredObject>();
  const pendingConflicts = new Map<string, number>();
  let rv = 1000;
  let conflicts = 0;
  const clone = <T>(value: T): T => structuredClone(value);

  function resourceList(groupVersion: string, resources: Array<{ name: string; kind: string; namespaced: boolean }>) {
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: resources.map((resource) => ({ ...resource, singularName: '', verbs: ['create', 'delete', 'get', 'list', 'update'] })) };
  }

  function takeConflict(kind: string): boolean {
    const left = pendingConflicts.get(kind) ?? 0;
    if (left === 0) return false;
    pendingConflicts.set(kind, left - 1);
    return true;
  }

  function write(store: Map<string, StoredObject>, key: string, kind: string, method: string, body: Record<string, unknown>, name: string): { code: number; body: unknown } {
    const metadata = (body['metadata'] ?? {}) as StoredObject['metadata'];
    const current = store.get(key);
    if (takeConflict(kind)) {
      conflicts += 1;
      // A concurrent writer got there first: the object changes, this write does not happen.
      if (current !== undefined) current.metadata.resourceVersion = String((rv += 1));
      throw status(409, method === 'POST' ? 'AlreadyExists' : 'Conflict', `${kind} "${name}" changed concurrently`);
    }
    if (method === 'POST' && current !== undefined) {
      conflicts += 1;
      throw status(409, 'AlreadyExists', `${kind} "${name}" already exists`);
    }
    if (method === 'PUT') {
      if (current === undefined) throw status(404, 'NotFound', `${kind} "${name}" not found`);
      if (metadata.resourceVersion !== undefined && metadata.resourceVersion !== current.metadata.resourceVersion) {
        conflicts += 1;
        throw status(409, 'Conflict', `Operation cannot be fulfilled on ${kind} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
      }
    }
    const stored = { ...clone(body), metadata: { ...clone(metadata), name, resourceVersion: String((rv += 1)) } } as StoredObject;
    store.set(key, stored);
    return { code: method === 'POST' ? 201 : 200, body: clone(stored) };
  }

  function checkBundle(name: string, body: Record<string, unknown>): void {
    const signerName = (body['spec'] as { signerName?: string } | undefined)?.signerName;
    if (signerName !== undefined && !name.startsWith(`${signerName.replaceAll('/', ':')}:`)) {
      throw status(422, 'Invalid', `ClusterTrustBundle.certificates.k8s.io "${name}" is invalid: metadata.name: Invalid value: "${name}": ClusterTrustBundle for signerName ${signerName} must be named with prefix ${signerName.replaceAll('/', ':')}:`);
    }
  }

  function matches(object: StoredObject, selector: string | null): boolean {
    if (selector === null || selector === '') return true;
    return selector.split(',').every((term) => {
      const [key, value] = term.split('=');
      return key !== undefined && object.metadata.labels?.[key] === value;
    });
  }

  return {
    handles: (pathname) => pathname === '/apis/certificates.k8s.io' || pathname.startsWith('/apis/certificates.k8s.io/v1') || pathname === '/api/v1' || pathname.startsWith('/api/v1/namespaces/'),
    async handle(method, url, body) {
      const path = url.pathname;
      if (method === 'GET' && path === '/apis/certificates.k8s.io') {
        const versions = ['v1', ...(served.has('v1beta1') ? ['v1beta1'] : [])].map((version) => ({ groupVersion: `certificates.k8s.io/${version}`, version }));
        return { code: 200, body: { kind: 'APIGroup', apiVersion: 'v1', name: 'certificates.k8s.io', versions, preferredVersion: versions[0] } };
      }
      if (method === 'GET' && path === '/api/v1') return { code: 200, body: resourceList('v1', [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true }]) };
      const version = /^\/apis\/certificates\.k8s\.io\/(v1|v1beta1)(\/.*)?$/.exec(path);
      if (version !== null) {
        const v = version[1] as Version;
        const rest = version[2] ?? '';
        if (v === 'v1beta1' && !served.has('v1beta1')) throw status(404, 'NotFound', 'the server could not find the requested resource');
        if (rest === '') {
          const resources = [
            ...(v === 'v1' ? [{ name: 'certificatesigningrequests', kind: 'CertificateSigningRequest', namespaced: false }] : []),
            ...(served.has(v) ? [{ name: 'clustertrustbundles', kind: 'ClusterTrustBundle', namespaced: false }] : []),
          ];
          return { code: 200, body: resourceList(`certificates.k8s.io/${v}`, resources) };
        }
        const bundle = /^\/clustertrustbundles(?:\/([^/]+))?$/.exec(rest);
        if (bundle === null || !served.has(v)) throw status(404, 'NotFound', 'the server could not find the requested resource');
        const name = bundle[1] === undefined ? undefined : decodeURIComponent(bundle[1]);
        if (name === undefined) {
          if (method === 'GET') {
            const items = [...bundles.values()].filter((object) => matches(object, url.searchParams.get('labelSelector'))).map(clone);
            return { code: 200, body: { kind: 'ClusterTrustBundleList', apiVersion: `certificates.k8s.io/${v}`, metadata: { resourceVersion: String(rv) }, items } };
          }
          const input = await body();
          const inputName = (input['metadata'] as { name?: string } | undefined)?.name ?? '';
          checkBundle(inputName, input);
          return write(bundles, inputName, 'ClusterTrustBundle', 'POST', input, inputName);
        }
        if (method === 'GET') {
          const object = bundles.get(name);
          if (object === undefined) throw status(404, 'NotFound', `clustertrustbundles.certificates.k8s.io "${name}" not found`);
          return { code: 200, body: clone(object) };
        }
        if (method === 'DELETE') {
          if (!bundles.delete(name)) throw status(404, 'NotFound', `clustertrustbundles.certificates.k8s.io "${name}" not found`);
          return { code: 200, body: { kind: 'Status', status: 'Success' } };
        }
        const input = await body();
        checkBundle(name, input);
        return write(bundles, name, 'ClusterTrustBundle', 'PUT', input, name);
      }
      const configMap = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/]+))?$/.exec(path);
      if (configMap === null) throw status(404, 'NotFound', 'the server could not find the requested resource');
      const namespace = decodeURIComponent(configMap[1] as string);
      const name = configMap[2] === undefined ? undefined : decodeURIComponent(configMap[2]);
      if (name === undefined && method === 'POST') {
        const input = await body();
        const inputName = (input['metadata'] as { name?: string } | undefined)?.name ?? '';
        return write(configMaps, `${namespace}/${inputName}`, 'ConfigMap', 'POST', { ...input, metadata: { ...(input['metadata'] as object), namespace } }, inputName);
      }
      if (name === undefined) throw status(405, 'MethodNotAllowed', 'not supported');
      if (method === 'GET') {
        const object = configMaps.get(`${namespace}/${name}`);
        if (object === undefined) throw status(404, 'NotFound', `configmaps "${name}" not found`);
        return { code: 200, body: clone(object) };
      }
      if (method === 'PUT') return write(configMaps, `${namespace}/${name}`, 'ConfigMap', 'PUT', await body(), name);
      throw status(405, 'MethodNotAllowed', 'not supported');
    },
    configMap: (namespace, name) => clone(configMaps.get(`${namespace}/${name}`)),
    clusterTrustBundles: () => [...bundles.values()].map(clone).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
    put(object) {
      const store = object.kind === 'ConfigMap' ? configMaps : bundles;
      const key = object.kind === 'ConfigMap' ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name;
      store.set(key, { ...clone(object), metadata: { ...clone(object.metadata), resourceVersion: String((rv += 1)) } } as StoredObject);
    },
    injectConflicts(kind, count) {
      pendingConflicts.set(kind, (pendingConflicts.get(kind) ?? 0) + count);
    },
    get conflicts() {
      return conflicts;
    },
  };
}
