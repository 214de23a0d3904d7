/**
 * The part of the Kubernetes API double (kube-api-double.ts) that serves coordination.k8s.io/v1
 * Leases, namespaced, as pkg/registry/coordination/lease/strategy.go and the generic registry
 * store do, where a leader elector can notice:
 *
 * - get, list, create (POST; an existing name is 409 AlreadyExists), update (PUT), delete;
 * - optimistic concurrency: a PUT whose metadata.resourceVersion is not the stored one is 409
 *   Conflict; a PUT without one is 422 (AllowUnconditionalUpdate is false for Leases); a PUT of a
 *   name that does not exist creates it (AllowCreateOnUpdate is true);
 * - validation (pkg/apis/coordination/validation ValidateLeaseSpec): leaseDurationSeconds, when
 *   set, must be greater than 0, and leaseTransitions at least 0 (422 Invalid);
 * - a PUT that changes nothing is not a write (same resourceVersion), as in the generic store.
 *
 * The state lives in this object, not in the HTTP server, so a test can stop the server (the API
 * server unreachable) and start another on the same port with the same Leases.
 */
import { KubeStatusError } from './kube-status.ts';

const PREFIX = '/apis/coordination.k8s.io/v1/namespaces/';
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface StoredLease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** The verbs the RBAC authorizer is asked for a Lease request. */
export type LeaseVerb = 'get' | 'list' | 'create' | 'update' | 'delete';

export interface LeasesDouble {
  /** True when the path is a Lease route. */
  handles(pathname: string): boolean;
  /** What the request asks the authorizer (verb, namespace, name), before it is carried out. */
  authorizationOf(method: string, url: URL): { verb: LeaseVerb; namespace: string; name?: string };
  handle(method: string, url: URL, body: () => Promise<Record<string, unknown>>): Promise<{ code: number; body: unknown }>;
  get(namespace: string, name: string): StoredLease | undefined;
  /** A write by another client (kubectl annotate, another elector): a new resourceVersion. */
  touch(namespace: string, name: string): void;
  readonly stats: { writes: number; conflicts: number };
}

function failure(code: number, reason: string, message: string, name?: string): KubeStatusError {
  return new KubeStatusError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(name === undefined ? {} : { details: { name, group: 'coordination.k8s.io', kind: 'leases' } }),
    code,
  });
}

/** The RBAC authorizer's refusal of a namespaced Lease request. */
export function leaseForbidden(user: string, verb: string, namespace: string | undefined, name: string | undefined): KubeStatusError {
  return failure(
    403,
    'Forbidden',
    `leases.coordination.k8s.io${name === undefined ? '' : ` "${name}"`} is forbidden: User "${user}" cannot ${verb} resource "leases" in API group "coordination.k8s.io" in the namespace "${namespace ?? ''}"`,
    name,
  );
}

const notFound = (name: string) => failure(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`, name);
const invalid = (name: string, field: string, message: string) =>
  failure(422, 'Invalid', `Lease.coordination.k8s.io "${name}" is invalid: ${field}: ${message}`, name);

function parts(url: URL): { namespace: string; name?: string } | undefined {
  if (!url.pathname.startsWith(PREFIX)) return undefined;
  const [namespace, resource, name, extra] = url.pathname.slice(PREFIX.length).split('/').map(decodeURIComponent);
  if (namespace === undefined || namespace === '' || resource !== 'leases' || extra !== undefined) return undefined;
  return name === undefined || name === '' ? { namespace } : { namespace, name };
}

export function createLeasesDouble(): LeasesDouble {
  const leases = new Map<string, StoredLease>();
  const stats = { writes: 0, conflicts: 0 };
  let rv = 5000;
  let uid = 0;
  const key = (namespace: string, name: string): string => `${namespace}/${name}`;

  function validated(name: string, namespace: string, body: Record<string, unknown>, old: StoredLease | undefined): StoredLease {
    const metadata = (body['metadata'] ?? {}) as Record<string, unknown>;
    const spec = (body['spec'] ?? {}) as Record<string, unknown>;
    if (!NAME.test(name)) throw invalid(name, 'metadata.name', 'a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\'');
    const duration = spec['leaseDurationSeconds'];
    if (duration !== undefined && duration !== null && !(typeof duration === 'number' && Number.isInteger(duration) && duration > 0)) {
      throw invalid(name, 'spec.leaseDurationSeconds', 'must be greater than 0');
    }
    const transitions = spec['leaseTransitions'];
    if (transitions !== undefined && transitions !== null && !(typeof transitions === 'number' && Number.isInteger(transitions) && transitions >= 0)) {
      throw invalid(name, 'spec.leaseTransitions', 'must be greater than or equal to 0');
    }
    const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
    const stored: StoredLease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace, resourceVersion: String((rv += 1)), uid: old?.metadata.uid ?? `lease-uid-${(uid += 1)}` },
      spec: {},
    };
    const holder = text(spec['holderIdentity']);
    if (holder !== undefined) stored.spec.holderIdentity = holder;
    if (typeof duration === 'number') stored.spec.leaseDurationSeconds = duration;
    if (typeof transitions === 'number') stored.spec.leaseTransitions = transitions;
    const acquire = text(spec['acquireTime']);
    if (acquire !== undefined) stored.spec.acquireTime = acquire;
    const renew = text(spec['renewTime']);
    if (renew !== undefined) stored.spec.renewTime = renew;
    for (const field of ['labels', 'annotations'] as const) {
      const map = metadata[field];
      if (map !== null && typeof map === 'object' && !Array.isArray(map)) stored.metadata[field] = structuredClone(map) as Record<string, string>;
    }
    return stored;
  }

  function write(stored: StoredLease): StoredLease {
    leases.set(key(stored.metadata.namespace, stored.metadata.name), stored);
    stats.writes += 1;
    return structuredClone(stored);
  }

  return {
    stats,
    handles: (pathname) => pathname.startsWith(PREFIX) && pathname.slice(PREFIX.length).split('/')[1] === 'leases',
    authorizationOf(method, url) {
      const target = parts(url) ?? { namespace: '' };
      const verb: LeaseVerb =
        method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'DELETE' ? 'delete' : target.name === undefined ? 'list' : 'get';
      return { verb, ...target };
    },
    async handle(method, url, body) {
      const target = parts(url);
      if (target === undefined) throw failure(404, 'NotFound', 'the server could not find the requested resource');
      const { namespace, name } = target;
      if (name === undefined) {
        if (method === 'GET') {
          const items = [...leases.values()].filter((lease) => lease.metadata.namespace === namespace).map((lease) => structuredClone(lease));
          return { code: 200, body: { kind: 'LeaseList', apiVersion: 'coordination.k8s.io/v1', metadata: { resourceVersion: String(rv) }, items } };
        }
        if (method === 'POST') {
          const request = await body();
          const requested = ((request['metadata'] ?? {}) as Record<string, unknown>)['name'];
          const newName = typeof requested === 'string' ? requested : '';
          if (leases.has(key(namespace, newName))) {
            stats.conflicts += 1;
            throw failure(409, 'AlreadyExists', `leases.coordination.k8s.io "${newName}" already exists`, newName);
          }
          return { code: 201, body: write(validated(newName, namespace, request, undefined)) };
        }
        throw failure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      }
      const current = leases.get(key(namespace, name));
      if (method === 'GET') {
        if (current === undefined) throw notFound(name);
        return { code: 200, body: structuredClone(current) };
      }
      if (method === 'DELETE') {
        if (current === undefined) throw notFound(name);
        leases.delete(key(namespace, name));
        return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: 'coordination.k8s.io', kind: 'leases', uid: current.metadata.uid } } };
      }
      if (method === 'PUT') {
        const request = await body();
        const metadata = (request['metadata'] ?? {}) as Record<string, unknown>;
        if (typeof metadata['name'] === 'string' && metadata['name'] !== name) {
          throw failure(400, 'BadRequest', `the name of the object (${metadata['name']}) does not match the name on the URL (${name})`);
        }
        if (current === undefined) return { code: 201, body: write(validated(name, namespace, request, undefined)) };
        const precondition = metadata['resourceVersion'];
        if (typeof precondition !== 'string' || precondition === '') {
          throw invalid(name, 'metadata.resourceVersion', 'Invalid value: 0x0: must be specified for an update');
        }
        if (precondition !== current.metadata.resourceVersion) {
          stats.conflicts += 1;
          throw failure(
            409,
            'Conflict',
            `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            name,
          );
        }
        const next = validated(name, namespace, request, current);
        const same = (lease: StoredLease): string => JSON.stringify([lease.spec, lease.metadata.labels, lease.metadata.annotations]);
        if (same(next) === same(current)) return { code: 200, body: structuredClone(current) };
        return { code: 200, body: write(next) };
      }
      throw failure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    },
    get(namespace, name) {
      const lease = leases.get(key(namespace, name));
      return lease === undefined ? undefined : structuredClone(lease);
    },
    touch(namespace, name) {
      const lease = leases.get(key(namespace, name));
      if (lease === undefined) throw new Error(`no Lease ${namespace}/${name}`);
      lease.metadata.annotations = { ...lease.metadata.annotations, touched: String(rv + 1) };
      lease.metadata.resourceVersion = String((rv += 1));
    },
  };
}
