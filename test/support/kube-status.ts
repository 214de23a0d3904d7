/**
 * metav1.Status bodies as the apiserver writes them (k8s.io/apimachinery/pkg/api/errors): the
 * reason, code and message text of NotFound, AlreadyExists, Conflict, Invalid, Forbidden, Expired.
 */

export const CSR_RESOURCE = 'certificatesigningrequests';
export const CSR_GROUP = 'certificates.k8s.io';
const QUALIFIED = `${CSR_RESOURCE}.${CSR_GROUP}`;

export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[] };
  code: number;
}

/** Thrown inside the double; the HTTP layer writes `status` with `status.code`. */
export class KubeStatusError extends Error {
  readonly status: KubeStatus;

  constructor(status: KubeStatus) {
    super(status.message ?? status.reason ?? 'Failure');
    this.status = status;
  }
}

function failure(code: number, reason: string, message: string, details?: KubeStatus['details']): KubeStatusError {
  return new KubeStatusError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  });
}

export function notFound(name: string): KubeStatusError {
  return failure(404, 'NotFound', `${QUALIFIED} "${name}" not found`, { name, group: CSR_GROUP, kind: CSR_RESOURCE });
}

export function alreadyExists(name: string): KubeStatusError {
  return failure(409, 'AlreadyExists', `${QUALIFIED} "${name}" already exists`, { name, group: CSR_GROUP, kind: CSR_RESOURCE });
}

/** errors.NewConflict with the registry's OptimisticLockErrorMsg. */
export function conflict(name: string): KubeStatusError {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${QUALIFIED} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: CSR_GROUP, kind: CSR_RESOURCE },
  );
}

/**
 * A PUT whose metadata.uid is not the stored object's (rest.DefaultUpdatedObjectInfo sends the body's
 * uid as a precondition; the generic store's checkPreconditions fails it and it becomes a Conflict).
 */
export function uidConflict(name: string, requested: string, actual: string): KubeStatusError {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${QUALIFIED} "${name}": Precondition failed: UID in precondition: ${requested}, UID in object meta: ${actual}`,
    { name, group: CSR_GROUP, kind: CSR_RESOURCE },
  );
}

/** errors.NewInvalid: 422, one cause per field error, message "<Kind>.<group> "<name>" is invalid: [...]". */
export function invalid(name: string, causes: StatusCause[]): KubeStatusError {
  const list = causes.map((cause) => `${cause.field}: ${cause.message}`);
  const joined = list.length === 1 ? (list[0] ?? '') : `[${list.join(', ')}]`;
  return failure(422, 'Invalid', `CertificateSigningRequest.${CSR_GROUP} "${name}" is invalid: ${joined}`, {
    name,
    group: CSR_GROUP,
    kind: 'CertificateSigningRequest',
    causes,
  });
}

export function badRequest(message: string): KubeStatusError {
  return failure(400, 'BadRequest', message);
}

export function unauthorized(): KubeStatusError {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export function forbidden(user: string, verb: string, subresource: string | undefined, name: string | undefined): KubeStatusError {
  const resource = subresource === undefined ? QUALIFIED : `${QUALIFIED}/${subresource}`;
  return failure(
    403,
    'Forbidden',
    `${resource}${name === undefined ? '' : ` "${name}"`} is forbidden: User "${user}" cannot ${verb} resource "${CSR_RESOURCE}${subresource === undefined ? '' : `/${subresource}`}" in API group "${CSR_GROUP}" at the cluster scope`,
    { ...(name === undefined ? {} : { name }), group: CSR_GROUP, kind: CSR_RESOURCE },
  );
}

export function methodNotAllowed(method: string): KubeStatusError {
  return failure(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`);
}

export function internalError(message: string): KubeStatusError {
  return failure(500, 'InternalError', `Internal error occurred: ${message}`);
}

/** The watch cache's answer to a resourceVersion older than its window (storage/cacher). */
export function expired(requested: number, oldest: number): KubeStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `too old resource version: ${requested} (${oldest})`,
    reason: 'Expired',
    code: 410,
  };
}

export function deletedStatus(name: string, uid: string): KubeStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name, group: CSR_GROUP, kind: CSR_RESOURCE, uid },
    code: 200,
  };
}
