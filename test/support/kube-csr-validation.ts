/**
 * The apiserver's CertificateSigningRequest rules, ported from kubernetes/kubernetes
 * pkg/apis/certificates/validation/validation.go (validateCertificateSigningRequest,
 * validateCertificateSigningRequestUpdate) and pkg/registry/certificates/certificates/strategy.go
 * (what create, update, /approval and /status may change). Compatibility allowances for objects
 * persisted by older servers (legacy signer, duplicate usages, ...) are left out: the double only
 * ever holds objects it validated itself.
 *
 * Verified in that source (and kept here): /status may set status.certificate whether or not the
 * CSR carries an Approved condition; only a change to an existing certificate is refused. Checking
 * approval before signing is the signer's job.
 */
import { X509Certificate } from 'node:crypto';
import { checkCsrPem } from './kube-der.ts';
import type { StatusCause } from './kube-status.ts';

export interface CsrCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

export interface CsrObject {
  apiVersion: 'certificates.k8s.io/v1';
  kind: 'CertificateSigningRequest';
  metadata: {
    name: string;
    generateName?: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    /** base64 of the PEM request ([]byte in Go, base64 in JSON). */
    request: string;
    signerName: string;
    expirationSeconds?: number;
    usages: string[];
    username?: string;
    uid?: string;
    groups?: string[];
    extra?: Record<string, string[]>;
  };
  status: {
    conditions?: CsrCondition[];
    /** base64 of the PEM certificate chain. */
    certificate?: string;
  };
}

// certificates.KeyUsage values (allValidUsages in validation.go).
const VALID_USAGES = new Set([
  'signing',
  'digital signature',
  'content commitment',
  'key encipherment',
  'key agreement',
  'data encipherment',
  'cert sign',
  'crl sign',
  'encipher only',
  'decipher only',
  'any',
  'server auth',
  'client auth',
  'code signing',
  'email protection',
  's/mime',
  'ipsec end system',
  'ipsec tunnel',
  'ipsec user',
  'timestamping',
  'ocsp signing',
  'microsoft sgc',
  'netscape sgc',
]);
const TRUE_ONLY_TYPES = new Set(['Approved', 'Denied', 'Failed']);
const ALL_STATUS_VALUES = ['False', 'True', 'Unknown'];
const LEGACY_UNKNOWN_SIGNER = 'kubernetes.io/legacy-unknown';
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface UpdateOptions {
  /** /approval: Approved and Denied conditions may be added. */
  allowSettingApprovalConditions: boolean;
  /** /status: status.certificate may be set (once). */
  allowSettingCertificate: boolean;
}

function cause(reason: string, field: string, message: string): StatusCause {
  return { reason, field, message };
}

export function decodeBase64Text(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return undefined;
  return Buffer.from(value, 'base64').toString('latin1');
}

/** apivalidation.ValidateSignerName: "<dns domain with a dot>/<dns subdomain path>". */
function validateSignerName(signerName: unknown): StatusCause[] {
  const field = 'spec.signerName';
  if (typeof signerName !== 'string' || signerName.length === 0) return [cause('FieldValueRequired', field, 'Required value')];
  if (signerName === LEGACY_UNKNOWN_SIGNER) {
    return [cause('FieldValueInvalid', field, `Invalid value: "${signerName}": the legacy signerName is not allowed via this API version`)];
  }
  const segments = signerName.split('/');
  const [domain = '', path = ''] = segments;
  const labels = domain.split('.');
  const ok =
    segments.length === 2 &&
    domain.length <= 253 &&
    labels.length >= 2 &&
    labels.every((label) => label.length <= 63 && DNS1123_LABEL.test(label)) &&
    path.split('.').every((part) => part.length <= 253 && DNS1123_SUBDOMAIN.test(part)) &&
    path.length <= 253 - domain.length - 1;
  return ok
    ? []
    : [cause('FieldValueInvalid', field, `Invalid value: "${signerName}": must be a fully qualified domain and path of the form 'example.com/signer-name'`)];
}

/** validateCertificate: one or more CERTIFICATE blocks, no headers, each a parseable certificate. */
function certificateProblem(pemText: string): string | undefined {
  const blocks = [...pemText.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g)];
  if (blocks.length === 0) return 'must contain at least one CERTIFICATE PEM block';
  for (const block of blocks) {
    if (block[1] !== 'CERTIFICATE') return `only CERTIFICATE PEM blocks are allowed, found "${block[1]}"`;
    const body = block[2] ?? '';
    if (/^[A-Za-z-]+:/m.test(body)) return 'no PEM block headers are permitted';
    try {
      new X509Certificate(Buffer.from(body.replace(/\s+/g, ''), 'base64'));
    } catch {
      return 'x509: malformed certificate';
    }
  }
  return undefined;
}

function validateConditions(conditions: readonly CsrCondition[]): StatusCause[] {
  const out: StatusCause[] = [];
  const seen = new Set<string>();
  let approved = false;
  let denied = false;
  conditions.forEach((condition, i) => {
    const at = `status.conditions[${i}]`;
    if (typeof condition.type !== 'string' || condition.type.length === 0) out.push(cause('FieldValueRequired', `${at}.type`, 'Required value'));
    const allowed = TRUE_ONLY_TYPES.has(condition.type) ? ['True'] : ALL_STATUS_VALUES;
    if (typeof condition.status !== 'string' || condition.status.length === 0) {
      out.push(cause('FieldValueRequired', `${at}.status`, 'Required value'));
    } else if (!allowed.includes(condition.status)) {
      out.push(
        cause('FieldValueNotSupported', `${at}.status`, `Unsupported value: "${condition.status}": supported values: ${allowed.map((v) => `"${v}"`).join(', ')}`),
      );
    }
    if (condition.type === 'Approved') {
      approved = true;
      if (denied) out.push(cause('FieldValueInvalid', `${at}.type`, 'Invalid value: "Approved": Approved and Denied conditions are mutually exclusive'));
    } else if (condition.type === 'Denied') {
      denied = true;
      if (approved) out.push(cause('FieldValueInvalid', `${at}.type`, 'Invalid value: "Denied": Approved and Denied conditions are mutually exclusive'));
    }
    if (seen.has(condition.type)) out.push(cause('FieldValueDuplicate', `${at}.type`, `Duplicate value: "${condition.type}"`));
    seen.add(condition.type);
  });
  return out;
}

/** validateCertificateSigningRequest; `old` present on updates (allowArbitraryCertificate). */
export function validateCsr(csr: CsrObject, old?: CsrObject): StatusCause[] {
  const out: StatusCause[] = [];
  if (typeof csr.metadata.name !== 'string' || csr.metadata.name.length === 0) {
    out.push(cause('FieldValueRequired', 'metadata.name', 'Required value: name or generateName is required'));
  } else if (csr.metadata.name === '.' || csr.metadata.name === '..' || /[/%]/.test(csr.metadata.name)) {
    // rest.BeforeCreate: path.ValidatePathSegmentName
    out.push(cause('FieldValueInvalid', 'metadata.name', `Invalid value: "${csr.metadata.name}": may not contain '/' or '%' or be '.' or '..'`));
  }
  const pem = decodeBase64Text(csr.spec.request);
  const csrProblem = pem === undefined ? 'illegal base64 data' : checkCsrPem(pem);
  if (csrProblem !== undefined) out.push(cause('FieldValueInvalid', 'spec.request', `Invalid value: "<request>": ${csrProblem}`));
  const usages = Array.isArray(csr.spec.usages) ? csr.spec.usages : [];
  if (usages.length === 0) out.push(cause('FieldValueRequired', 'spec.usages', 'Required value'));
  const seenUsages = new Set<string>();
  usages.forEach((usage, i) => {
    if (!VALID_USAGES.has(usage)) {
      out.push(cause('FieldValueNotSupported', `spec.usages[${i}]`, `Unsupported value: "${String(usage)}"`));
    }
    if (seenUsages.has(usage)) out.push(cause('FieldValueDuplicate', `spec.usages[${i}]`, `Duplicate value: "${usage}"`));
    seenUsages.add(usage);
  });
  out.push(...validateSignerName(csr.spec.signerName));
  const expiration = csr.spec.expirationSeconds;
  if (expiration !== undefined && (!Number.isInteger(expiration) || expiration < 600)) {
    out.push(
      cause('FieldValueInvalid', 'spec.expirationSeconds', `Invalid value: ${String(expiration)}: may not specify a duration less than 600 seconds (10 minutes)`),
    );
  }
  out.push(...validateConditions(csr.status.conditions ?? []));
  const certificate = csr.status.certificate ?? '';
  const unchanged = old !== undefined && (old.status.certificate ?? '') === certificate;
  if (!unchanged && certificate.length > 0) {
    const text = decodeBase64Text(certificate);
    const problem = text === undefined ? 'illegal base64 data' : certificateProblem(text);
    if (problem !== undefined) out.push(cause('FieldValueInvalid', 'status.certificate', `Invalid value: "<certificate data>": ${problem}`));
  }
  return out;
}

function conditionsOfType(csr: CsrObject, type: string): CsrCondition[] {
  return (csr.status.conditions ?? []).filter((condition) => condition.type === type);
}

/** validateCertificateSigningRequestUpdate. */
export function validateCsrUpdate(next: CsrObject, old: CsrObject, options: UpdateOptions): StatusCause[] {
  const out = validateCsr(next, old);
  for (const type of ['Approved', 'Denied', 'Failed']) {
    if (conditionsOfType(next, type).length < conditionsOfType(old, type).length) {
      out.push(cause('FieldValueForbidden', 'status.conditions', `Forbidden: updates may not remove a condition of type "${type}"`));
    }
  }
  if (!options.allowSettingApprovalConditions) {
    for (const type of ['Approved', 'Denied']) {
      const before = conditionsOfType(old, type);
      const after = conditionsOfType(next, type);
      if (after.length > before.length) {
        out.push(cause('FieldValueForbidden', 'status.conditions', `Forbidden: updates may not add a condition of type "${type}"`));
      } else if (after.length === before.length && JSON.stringify(after) !== JSON.stringify(before)) {
        out.push(cause('FieldValueForbidden', 'status.conditions', `Forbidden: updates may not modify a condition of type "${type}"`));
      }
    }
  }
  const oldCertificate = old.status.certificate ?? '';
  if ((next.status.certificate ?? '') !== oldCertificate) {
    if (!options.allowSettingCertificate) {
      out.push(cause('FieldValueForbidden', 'status.certificate', 'Forbidden: updates may not set certificate content'));
    } else if (oldCertificate.length > 0) {
      out.push(cause('FieldValueForbidden', 'status.certificate', 'Forbidden: updates may not modify existing certificate content'));
    }
  }
  return out;
}

/** strategy.go populateConditionTimestamps. */
export function populateConditionTimestamps(next: CsrObject, old: CsrObject, now: string): void {
  for (const condition of next.status.conditions ?? []) {
    if (!condition.lastUpdateTime) condition.lastUpdateTime = now;
    if (!condition.lastTransitionTime) {
      const previous = (old.status.conditions ?? []).find(
        (candidate) => candidate.type === condition.type && candidate.status === condition.status && candidate.lastTransitionTime,
      );
      condition.lastTransitionTime = previous?.lastTransitionTime ?? now;
    }
  }
}

/**
 * csrStatusStrategy.PrepareForUpdate's preserveConditionInstances: when /status keeps the number
 * of Approved (Denied) conditions, the stored ones are put back unchanged; when it adds or removes
 * one, the change stays and validation refuses it.
 */
export function preserveConditionInstances(next: CsrObject, old: CsrObject, type: string): void {
  const conditions = next.status.conditions ?? [];
  const newIndices = conditions.flatMap((condition, i) => (condition.type === type ? [i] : []));
  const oldConditions = conditionsOfType(old, type);
  if (newIndices.length !== oldConditions.length) return;
  newIndices.forEach((index, i) => {
    const previous = oldConditions[i];
    if (previous !== undefined) conditions[index] = structuredClone(previous);
  });
}
