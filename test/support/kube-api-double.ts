/**
 * An in-process stand-in for the kube-apiserver's certificates.k8s.io/v1 CertificateSigningRequest
 * API, on 127.0.0.1 over HTTPS (self-signed; the client trusts it through certificate-authority-data
 * like any cluster) or plain HTTP. What it does, and where that comes from:
 *
 * - create/get/list/watch/update/delete, /approval and /status, with the field rules of
 *   pkg/registry/certificates/certificates/strategy.go and pkg/apis/certificates/validation
 *   (see kube-csr-validation.ts), Status bodies from apimachinery's api/errors (kube-status.ts);
 * - spec.username/uid/groups come from the caller's bearer token, with "system:authenticated"
 *   appended as the apiserver's authenticator does; whatever the body says is discarded;
 * - optimistic concurrency: a PUT carrying a stale metadata.resourceVersion, or the metadata.uid of
 *   another object, is 409 Conflict; a PUT without a resourceVersion is unconditional
 *   (AllowUnconditionalUpdate); a PUT that changes nothing is not a
 *   write (no new resourceVersion, no event);
 * - watch: newline-delimited JSON events; resourceVersion unset or "0" starts with synthetic ADDED
 *   events for every object; a resourceVersion older than the retained history gets one ERROR event
 *   (Status 410, reason Expired, "too old resource version") and the stream ends, as from the watch
 *   cache; BOOKMARK events when allowWatchBookmarks=true; timeoutSeconds ends the stream;
 * - optional authorization hook, asked the same questions as the RBAC authorizer and the
 *   certificates admission plugins: "approve"/"sign" on signers/<signerName> when /approval adds a
 *   decision or /status sets a certificate.
 *
 * Not implemented: PATCH, pagination (limit/continue are ignored: the whole list comes back, which
 * a server may do), label/field selectors, dry-run, protobuf.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import {
  type CsrCondition,
  type CsrObject,
  populateConditionTimestamps,
  preserveConditionInstances,
  validateCsr,
  validateCsrUpdate,
} from './kube-csr-validation.ts';
import {
  type KubeStatus,
  KubeStatusError,
  alreadyExists,
  badRequest,
  conflict,
  deletedStatus,
  expired,
  forbidden,
  internalError,
  invalid,
  methodNotAllowed,
  notFound,
  uidConflict,
  unauthorized,
} from './kube-status.ts';
import { makeServingCertificate } from './kube-tls.ts';
import { leaseForbidden, type LeasesDouble } from './kube-leases.ts';
import type { TrustObjectsDouble } from './kube-trust-objects.ts';

export type { CsrCondition, CsrObject } from './kube-csr-validation.ts';
export { KubeStatusError } from './kube-status.ts';

export interface KubeUser {
  username: string;
  uid?: string;
  groups: string[];
}

export type CsrSubresource = 'approval' | 'status';
export type CsrWriteTarget = CsrSubresource | 'main';

export interface AuthorizationQuestion {
  user: KubeUser;
  verb: string;
  /** "certificatesigningrequests", "signers" for the approve/sign/attest checks, or "clustertrustbundles"; "leases" (coordination.k8s.io). */
  resource: 'certificatesigningrequests' | 'signers' | 'clustertrustbundles' | 'leases';
  /** Set for namespaced resources (leases). */
  namespace?: string;
  subresource?: CsrSubresource;
  /** Object name, or the signerName for "signers". */
  name?: string;
}

export interface KubeApiDoubleOptions {
  /** Bearer token -> user. Unknown tokens are 401. */
  users: Record<string, KubeUser>;
  /** HTTPS with a throwaway self-signed certificate (default) or plain HTTP. */
  tls?: boolean;
  /** Default: every authenticated user may do everything. */
  authorize?: (question: AuthorizationQuestion) => boolean;
  /** Send a BOOKMARK to bookmark-enabled watches this often (default: only when bookmark() is called). */
  bookmarkIntervalMs?: number;
  /** Time for creationTimestamp and condition timestamps (default Date.now). */
  now?: () => number;
  /** Listen on this port (default: any free port). */
  port?: number;
  /** Serving certificate to reuse (e.g. to come back on the same port with the same CA). */
  serving?: { certPem: string; keyPem: string };
  /** Discovery, ConfigMaps and ClusterTrustBundles for trust publishing (kube-trust-objects.ts). */
  trustObjects?: TrustObjectsDouble;
  /** coordination.k8s.io/v1 Leases (kube-leases.ts); kept outside the server so they outlive a restart. */
  leases?: LeasesDouble;
}

export interface CsrCreateInput {
  name?: string;
  generateName?: string;
  /** The PEM request (the double base64-encodes it, as JSON carries []byte). */
  requestPem: string;
  signerName: string;
  usages: string[];
  expirationSeconds?: number;
  labels?: Record<string, string>;
}

export interface WatchRequestRecord {
  resourceVersion: string | undefined;
  allowWatchBookmarks: boolean;
}

export interface KubeApiDoubleStats {
  requests: number;
  /** TCP (TLS) connections accepted: a client that reuses connections keeps this small. */
  connections: number;
  lists: number;
  watchRequests: WatchRequestRecord[];
  /** 410 ERROR events sent to watches that asked for a compacted resourceVersion. */
  expiredWatches: number;
  /** Accepted PUT /approval that changed something. */
  approvalWrites: number;
  /** Accepted PUT /status that changed something. */
  statusWrites: number;
  /** CSR name -> how many times status.certificate went from empty to set (must stay <= 1). */
  certificateWrites: Map<string, number>;
  /** PUT /status requests that carried a certificate, accepted or not (idempotent re-writes included). */
  certificatePutAttempts: number;
  /** PUT /status refused because it would change an existing certificate. */
  certificateOverwritesRefused: number;
  conflicts: number;
  invalid: number;
}

export interface KubeApiDouble {
  readonly url: string;
  /** PEM of the serving certificate (empty without TLS). */
  readonly caPem: string;
  /** The serving certificate and key, to start another double that clients already trust. */
  readonly serving: { certPem: string; keyPem: string } | undefined;
  readonly stats: KubeApiDoubleStats;
  /** A KubeConfig for the server URL + bearer token (+ CA data), as the controller gets one. */
  kubeConfig(token: string): KubeConfig;
  /** Creates as the user of `token`, through the same path as POST (validation included). */
  create(token: string, input: CsrCreateInput): CsrObject;
  /**
   * Test hook: stores a CSR WITHOUT the create validation (e.g. a bad self-signature the real
   * apiserver refuses), as if written by an older or buggy server.
   */
  insertUnvalidated(token: string, input: CsrCreateInput): CsrObject;
  get(name: string): CsrObject | undefined;
  list(): CsrObject[];
  delete(name: string): void;
  /** A concurrent metadata-only update (an annotation): new resourceVersion, MODIFIED event. */
  touch(name: string): void;
  readonly resourceVersion: number;
  /** Cuts every open watch: "reset" destroys the socket, "end" closes the stream cleanly. */
  dropWatches(mode?: 'reset' | 'end'): number;
  /** Forgets the event history: a watch from any earlier resourceVersion gets 410 Expired. */
  compact(): void;
  /** Sends a BOOKMARK with the current resourceVersion to bookmark-enabled watches. */
  bookmark(): void;
  /** The next `count` PUTs on `target` meet a concurrent update first, so they conflict (409). */
  injectConflicts(target: CsrWriteTarget, count: number): void;
  /** The next `count` PUTs on `target` fail with 500 before anything is written. */
  failNext(target: CsrWriteTarget, count: number): void;
  /** Drops every pending injectConflicts/failNext. */
  clearInjections(): void;
  readonly openWatches: number;
  /** Resolves once `predicate` holds, re-checked after every write; rejects after timeoutMs. */
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

const API_PREFIX = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const MAX_BODY_BYTES = 3 * 1024 * 1024;
const GENERATE_NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

interface HistoryEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: CsrObject;
}

interface OpenWatch {
  response: http.ServerResponse;
  bookmarks: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Go's metav1.Time JSON: RFC 3339 at whole seconds, UTC. */
function goTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function normaliseTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : goTime(ms);
}

function stable(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    return Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

function sameObject(a: CsrObject, b: CsrObject): boolean {
  const strip = (o: CsrObject): unknown => ({ ...o, metadata: { ...o.metadata, resourceVersion: '' } });
  return stable(strip(a)) === stable(strip(b));
}

function readConditions(value: unknown): CsrCondition[] {
  if (!Array.isArray(value)) return [];
  return value.map((raw: unknown) => {
    const c = (raw ?? {}) as Record<string, unknown>;
    const condition: CsrCondition = { type: String(c['type'] ?? ''), status: String(c['status'] ?? '') };
    if (typeof c['reason'] === 'string' && c['reason'] !== '') condition.reason = c['reason'];
    if (typeof c['message'] === 'string' && c['message'] !== '') condition.message = c['message'];
    const updated = normaliseTime(c['lastUpdateTime']);
    if (updated !== undefined) condition.lastUpdateTime = updated;
    const transition = normaliseTime(c['lastTransitionTime']);
    if (transition !== undefined) condition.lastTransitionTime = transition;
    return condition;
  });
}

function stringMap(value: unknown): Record<string, string> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const entries = Object.entries(value as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return entries.length === 0 ? undefined : Object.fromEntries(entries);
}

export async function startKubeApiDouble(options: KubeApiDoubleOptions): Promise<KubeApiDouble> {
  const now = options.now ?? Date.now;
  const authorize = options.authorize ?? (() => true);
  const objects = new Map<string, CsrObject>();
  let history: HistoryEvent[] = [];
  let compactedThrough = 0;
  let currentRv = 100;
  const watches = new Set<OpenWatch>();
  const pendingConflicts = new Map<CsrWriteTarget, number>();
  const pendingFailures = new Map<CsrWriteTarget, number>();
  const waiters = new Set<() => void>();
  const stats: KubeApiDoubleStats = {
    requests: 0,
    connections: 0,
    lists: 0,
    watchRequests: [],
    expiredWatches: 0,
    approvalWrites: 0,
    statusWrites: 0,
    certificateWrites: new Map(),
    certificatePutAttempts: 0,
    certificateOverwritesRefused: 0,
    conflicts: 0,
    invalid: 0,
  };

  const tls = options.tls ?? true;
  const serving = tls ? (options.serving ?? makeServingCertificate()) : undefined;

  function clone(object: CsrObject): CsrObject {
    return structuredClone(object);
  }

  function emit(type: HistoryEvent['type'], object: CsrObject): void {
    const event: HistoryEvent = { rv: Number(object.metadata.resourceVersion), type, object: clone(object) };
    history.push(event);
    const line = `${JSON.stringify({ type, object: event.object })}\n`;
    for (const watch of watches) watch.response.write(line);
    for (const wake of [...waiters]) wake();
  }

  function commit(object: CsrObject, type: HistoryEvent['type']): CsrObject {
    currentRv += 1;
    object.metadata.resourceVersion = String(currentRv);
    if (type === 'DELETED') objects.delete(object.metadata.name);
    else objects.set(object.metadata.name, object);
    emit(type, object);
    return clone(object);
  }

  function userOf(token: string): KubeUser {
    const user = options.users[token];
    if (user === undefined) throw unauthorized();
    return user;
  }

  function check(question: AuthorizationQuestion): void {
    if (authorize(question)) return;
    if (question.resource === 'leases') throw leaseForbidden(question.user.username, question.verb, question.namespace, question.name);
    throw forbidden(question.user.username, question.verb, question.subresource, question.name);
  }

  function newObject(user: KubeUser, body: Record<string, unknown>): CsrObject {
    const metadata = (body['metadata'] ?? {}) as Record<string, unknown>;
    const spec = (body['spec'] ?? {}) as Record<string, unknown>;
    let name = typeof metadata['name'] === 'string' ? metadata['name'] : '';
    const generateName = typeof metadata['generateName'] === 'string' ? metadata['generateName'] : undefined;
    if (name === '' && generateName !== undefined && generateName !== '') {
      const random = [...randomBytes(5)].map((byte) => GENERATE_NAME_ALPHABET[byte % GENERATE_NAME_ALPHABET.length]).join('');
      name = `${generateName}${random}`;
    }
    const groups = [...user.groups];
    if (!groups.includes('system:authenticated')) groups.push('system:authenticated');
    const object: CsrObject = {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name, uid: randomUUID(), resourceVersion: '', creationTimestamp: goTime(now()) },
      spec: {
        request: typeof spec['request'] === 'string' ? spec['request'] : '',
        signerName: typeof spec['signerName'] === 'string' ? spec['signerName'] : '',
        usages: Array.isArray(spec['usages']) ? spec['usages'].map(String) : [],
        // strategy.go PrepareForCreate: user info comes from the request context only.
        username: user.username,
        ...(user.uid === undefined ? {} : { uid: user.uid }),
        groups,
      },
      // "Be explicit that users cannot create pre-approved certificate requests."
      status: {},
    };
    if (generateName !== undefined) object.metadata.generateName = generateName;
    if (spec['expirationSeconds'] !== undefined && spec['expirationSeconds'] !== null) {
      object.spec.expirationSeconds = Number(spec['expirationSeconds']);
    }
    const labels = stringMap(metadata['labels']);
    if (labels !== undefined) object.metadata.labels = labels;
    const annotations = stringMap(metadata['annotations']);
    if (annotations !== undefined) object.metadata.annotations = annotations;
    return object;
  }

  function createObject(user: KubeUser, body: Record<string, unknown>, validate: boolean): CsrObject {
    const object = newObject(user, body);
    if (validate) {
      const causes = validateCsr(object);
      if (causes.length > 0) {
        stats.invalid += 1;
        throw invalid(object.metadata.name, causes);
      }
    }
    if (objects.has(object.metadata.name)) throw alreadyExists(object.metadata.name);
    return commit(object, 'ADDED');
  }

  function bodyOf(input: CsrCreateInput): Record<string, unknown> {
    return {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: {
        ...(input.name === undefined ? {} : { name: input.name }),
        ...(input.generateName === undefined ? {} : { generateName: input.generateName }),
        ...(input.labels === undefined ? {} : { labels: input.labels }),
      },
      spec: {
        request: Buffer.from(input.requestPem, 'utf8').toString('base64'),
        signerName: input.signerName,
        usages: input.usages,
        ...(input.expirationSeconds === undefined ? {} : { expirationSeconds: input.expirationSeconds }),
      },
    };
  }

  function take(counter: Map<CsrWriteTarget, number>, target: CsrWriteTarget): boolean {
    const left = counter.get(target) ?? 0;
    if (left <= 0) return false;
    counter.set(target, left - 1);
    return true;
  }

  function touch(name: string): void {
    const existing = objects.get(name);
    if (existing === undefined) throw notFound(name);
    const next = clone(existing);
    next.metadata.annotations = { ...next.metadata.annotations, 'double.test/touched': String(currentRv + 1) };
    commit(next, 'MODIFIED');
  }

  /** The generic registry Update: load, preconditions, prepare, validate, write if changed. */
  function update(user: KubeUser, name: string, target: CsrWriteTarget, body: Record<string, unknown>): CsrObject {
    check({ user, verb: 'update', resource: 'certificatesigningrequests', ...(target === 'main' ? {} : { subresource: target }), name });
    if (take(pendingFailures, target)) throw internalError('injected failure (test hook)');
    if (take(pendingConflicts, target) && objects.has(name)) touch(name);
    const old = objects.get(name);
    if (old === undefined) throw notFound(name);
    const metadata = (body['metadata'] ?? {}) as Record<string, unknown>;
    if (typeof metadata['name'] === 'string' && metadata['name'] !== name) {
      throw badRequest(`the name of the object (${metadata['name']}) does not match the name on the URL (${name})`);
    }
    const precondition = metadata['resourceVersion'];
    if (typeof precondition === 'string' && precondition !== '' && precondition !== old.metadata.resourceVersion) {
      stats.conflicts += 1;
      throw conflict(name);
    }
    // The body's uid is a precondition too: a PUT meant for an object that was deleted and
    // re-created under the same name never lands on the new one.
    const uidPrecondition = metadata['uid'];
    if (typeof uidPrecondition === 'string' && uidPrecondition !== '' && uidPrecondition !== old.metadata.uid) {
      stats.conflicts += 1;
      throw uidConflict(name, uidPrecondition, old.metadata.uid);
    }
    const status = (body['status'] ?? {}) as Record<string, unknown>;
    const next = clone(old);
    const nowText = goTime(now());
    let causes;
    if (target === 'main') {
      // csrStrategy.PrepareForUpdate: spec and status are kept; only metadata may change.
      const labels = stringMap(metadata['labels']);
      const annotations = stringMap(metadata['annotations']);
      if (labels === undefined) delete next.metadata.labels;
      else next.metadata.labels = labels;
      if (annotations === undefined) delete next.metadata.annotations;
      else next.metadata.annotations = annotations;
      causes = validateCsrUpdate(next, old, { allowSettingApprovalConditions: false, allowSettingCertificate: false });
    } else if (target === 'approval') {
      // csrApprovalStrategy: only the conditions change; the certificate is kept.
      next.status = { ...old.status, conditions: readConditions(status['conditions']) };
      if (old.status.certificate === undefined) delete next.status.certificate;
      populateConditionTimestamps(next, old, nowText);
      causes = validateCsrUpdate(next, old, { allowSettingApprovalConditions: true, allowSettingCertificate: false });
      const decided = (c: CsrObject): string => stable((c.status.conditions ?? []).filter((x) => x.type === 'Approved' || x.type === 'Denied'));
      if (causes.length === 0 && decided(next) !== decided(old)) {
        // plugin/pkg/admission/certificates/approval: "approve" on signers/<signerName>.
        check({ user, verb: 'approve', resource: 'signers', name: old.spec.signerName });
      }
    } else {
      // csrStatusStrategy: spec kept, Approved/Denied instances preserved, certificate settable once.
      next.status = { conditions: readConditions(status['conditions']) };
      if (typeof status['certificate'] === 'string' && status['certificate'] !== '') next.status.certificate = status['certificate'];
      preserveConditionInstances(next, old, 'Approved');
      preserveConditionInstances(next, old, 'Denied');
      populateConditionTimestamps(next, old, nowText);
      if (next.status.certificate !== undefined) stats.certificatePutAttempts += 1;
      causes = validateCsrUpdate(next, old, { allowSettingApprovalConditions: false, allowSettingCertificate: true });
      if (causes.some((c) => c.field === 'status.certificate' && c.reason === 'FieldValueForbidden')) stats.certificateOverwritesRefused += 1;
      if (causes.length === 0 && (next.status.certificate ?? '') !== (old.status.certificate ?? '')) {
        // plugin/pkg/admission/certificates/signing: "sign" on signers/<signerName>.
        check({ user, verb: 'sign', resource: 'signers', name: old.spec.signerName });
      }
    }
    if ((next.status.conditions ?? []).length === 0) delete next.status.conditions;
    if (causes.length > 0) {
      stats.invalid += 1;
      throw invalid(name, causes);
    }
    if (sameObject(next, old)) return clone(old);
    if (target === 'approval') stats.approvalWrites += 1;
    if (target === 'status') {
      stats.statusWrites += 1;
      if ((old.status.certificate ?? '') === '' && (next.status.certificate ?? '') !== '') {
        stats.certificateWrites.set(name, (stats.certificateWrites.get(name) ?? 0) + 1);
      }
    }
    return commit(next, 'MODIFIED');
  }

  function remove(user: KubeUser | undefined, name: string): KubeStatus {
    if (user !== undefined) check({ user, verb: 'delete', resource: 'certificatesigningrequests', name });
    const existing = objects.get(name);
    if (existing === undefined) throw notFound(name);
    commit(clone(existing), 'DELETED');
    return deletedStatus(name, existing.metadata.uid);
  }

  function listBody(): Record<string, unknown> {
    stats.lists += 1;
    const items = [...objects.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).map(clone);
    return {
      kind: 'CertificateSigningRequestList',
      apiVersion: 'certificates.k8s.io/v1',
      metadata: { resourceVersion: String(currentRv) },
      items,
    };
  }

  function openWatch(query: URLSearchParams, response: http.ServerResponse): void {
    const rvParam = query.get('resourceVersion') ?? undefined;
    const bookmarks = query.get('allowWatchBookmarks') === 'true';
    stats.watchRequests.push({ resourceVersion: rvParam, allowWatchBookmarks: bookmarks });
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    response.flushHeaders();
    const requested = rvParam === undefined || rvParam === '' ? 0 : Number(rvParam);
    if (!Number.isSafeInteger(requested) || requested < 0) {
      const status = badRequest(`invalid resource version: ${rvParam}`).status;
      response.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    if (requested === 0) {
      // Unset or "0": synthetic ADDED events for the current state, then live events.
      for (const object of [...objects.values()].sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))) {
        response.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
      }
    } else if (requested < compactedThrough) {
      stats.expiredWatches += 1;
      response.end(`${JSON.stringify({ type: 'ERROR', object: expired(requested, compactedThrough) })}\n`);
      return;
    } else {
      for (const event of history) {
        if (event.rv > requested) response.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
      }
    }
    const watch: OpenWatch = { response, bookmarks, timer: undefined };
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');
    if (timeoutSeconds > 0) {
      watch.timer = setTimeout(() => response.end(), timeoutSeconds * 1000);
      watch.timer.unref();
    }
    watches.add(watch);
    const forget = (): void => {
      if (watch.timer !== undefined) clearTimeout(watch.timer);
      watches.delete(watch);
    };
    response.on('close', forget);
  }

  function bookmark(): void {
    const line = `${JSON.stringify({
      type: 'BOOKMARK',
      object: { kind: 'CertificateSigningRequest', apiVersion: 'certificates.k8s.io/v1', metadata: { resourceVersion: String(currentRv) } },
    })}\n`;
    for (const watch of watches) if (watch.bookmarks) watch.response.write(line);
  }

  async function readBody(request: http.IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > MAX_BODY_BYTES) throw new KubeStatusError({ ...badRequest('request entity too large').status, code: 413, reason: 'RequestEntityTooLarge' });
      chunks.push(buffer);
    }
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      return parsed as Record<string, unknown>;
    } catch {
      throw badRequest('the body of the request was in an unknown format - accepted media types include: application/json');
    }
  }

  function send(response: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    response.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    response.end(text);
  }

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    stats.requests += 1;
    const url = new URL(request.url ?? '/', 'http://double');
    const method = request.method ?? 'GET';
    const authorization = request.headers.authorization ?? '';
    const token = authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : '';
    const user = userOf(token);
    if (options.trustObjects?.handles(url.pathname) === true && !url.pathname.startsWith(API_PREFIX)) {
      const { code, body } = await options.trustObjects.handle(method, url, () => readBody(request));
      send(response, code, body);
      return;
    }
    if (options.leases?.handles(url.pathname) === true) {
      const { verb, namespace, name } = options.leases.authorizationOf(method, url);
      check({ user, verb, resource: 'leases', namespace, ...(name === undefined ? {} : { name }) });
      const { code, body } = await options.leases.handle(method, url, () => readBody(request));
      send(response, code, body);
      return;
    }
    if (!url.pathname.startsWith(API_PREFIX)) {
      throw new KubeStatusError({ ...notFound(url.pathname).status, message: 'the server could not find the requested resource', details: {} });
    }
    const parts = url.pathname.slice(API_PREFIX.length).split('/').filter((part) => part !== '').map(decodeURIComponent);
    const [name, subresource, extra] = parts;
    if (extra !== undefined || (subresource !== undefined && subresource !== 'approval' && subresource !== 'status')) {
      throw new KubeStatusError({ ...notFound(url.pathname).status, message: 'the server could not find the requested resource', details: {} });
    }
    if (name === undefined) {
      if (method === 'GET') {
        const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
        check({ user, verb: watching ? 'watch' : 'list', resource: 'certificatesigningrequests' });
        if (watching) openWatch(url.searchParams, response);
        else send(response, 200, listBody());
        return;
      }
      if (method === 'POST') {
        check({ user, verb: 'create', resource: 'certificatesigningrequests' });
        send(response, 201, createObject(user, await readBody(request), true));
        return;
      }
      throw methodNotAllowed(method);
    }
    const sub = subresource as CsrSubresource | undefined;
    if (method === 'GET') {
      check({ user, verb: 'get', resource: 'certificatesigningrequests', ...(sub === undefined ? {} : { subresource: sub }), name });
      const object = objects.get(name);
      if (object === undefined) throw notFound(name);
      send(response, 200, object);
      return;
    }
    if (method === 'PUT') {
      send(response, 200, update(user, name, sub ?? 'main', await readBody(request)));
      return;
    }
    if (method === 'DELETE' && sub === undefined) {
      send(response, 200, remove(user, name));
      return;
    }
    throw methodNotAllowed(method);
  }

  const listener = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    handle(request, response).catch((error: unknown) => {
      const status = error instanceof KubeStatusError ? error.status : internalError(error instanceof Error ? error.message : 'unknown').status;
      if (!response.headersSent) send(response, status.code, status);
      else response.end();
    });
  };
  const server = serving === undefined ? http.createServer(listener) : https.createServer({ cert: serving.certPem, key: serving.keyPem }, listener);
  server.on('connection', () => {
    stats.connections += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${serving === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
  const bookmarkTimer = options.bookmarkIntervalMs === undefined ? undefined : setInterval(bookmark, options.bookmarkIntervalMs);
  bookmarkTimer?.unref();

  return {
    url,
    caPem: serving?.certPem ?? '',
    serving,
    stats,
    kubeConfig(token: string): KubeConfig {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromOptions({
        clusters: [
          {
            name: 'double',
            server: url,
            skipTLSVerify: false,
            ...(serving === undefined ? {} : { caData: Buffer.from(serving.certPem).toString('base64') }),
          },
        ],
        users: [{ name: 'double-user', token }],
        contexts: [{ name: 'double', cluster: 'double', user: 'double-user' }],
        currentContext: 'double',
      });
      return kubeConfig;
    },
    create: (token, input) => createObject(userOf(token), bodyOf(input), true),
    insertUnvalidated: (token, input) => createObject(userOf(token), bodyOf(input), false),
    get: (name) => {
      const object = objects.get(name);
      return object === undefined ? undefined : clone(object);
    },
    list: () => [...objects.values()].map(clone),
    delete: (name) => void remove(undefined, name),
    touch,
    get resourceVersion() {
      return currentRv;
    },
    dropWatches(mode: 'reset' | 'end' = 'reset'): number {
      const open = [...watches];
      for (const watch of open) {
        watches.delete(watch);
        if (mode === 'end') watch.response.end();
        else watch.response.socket?.destroy();
      }
      return open.length;
    },
    compact(): void {
      compactedThrough = currentRv;
      history = [];
    },
    bookmark,
    injectConflicts(target, count) {
      pendingConflicts.set(target, (pendingConflicts.get(target) ?? 0) + count);
    },
    failNext(target, count) {
      pendingFailures.set(target, (pendingFailures.get(target) ?? 0) + count);
    },
    clearInjections() {
      pendingFailures.clear();
      pendingConflicts.clear();
    },
    get openWatches() {
      return watches.size;
    },
    waitFor(predicate, timeoutMs = 10_000, what = 'condition'): Promise<void> {
      if (predicate()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const poll = setInterval(() => wake(), 50);
        const timer = setTimeout(() => {
          waiters.delete(wake);
          clearInterval(poll);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        function wake(): void {
          if (!predicate()) return;
          waiters.delete(wake);
          clearTimeout(timer);
          clearInterval(poll);
          resolve();
        }
        waiters.add(wake);
      });
    },
    async close(): Promise<void> {
      if (bookmarkTimer !== undefined) clearInterval(bookmarkTimer);
      for (const watch of watches) watch.response.end();
      watches.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
