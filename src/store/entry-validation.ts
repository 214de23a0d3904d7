/**
 * Checks and normalises what callers hand the store before anything is queued, so a bad entry is
 * rejected on its own (ERR_REQUEST_INVALID) and never reaches a shared transaction, and so the
 * audit hash is computed over exactly the values that will read back from the database.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';
import { normaliseJsonObject } from './canonical-json.ts';
import type {
  AuditEventInput,
  AuditEventType,
  CertificateKind,
  DecisionEntry,
  IssuedCertificateInput,
  RequestInput,
  RequestState,
} from './types.ts';

export interface PreparedEvent {
  type: AuditEventType;
  actor: string;
  subject?: string;
  requestId?: string;
  data: Record<string, unknown>;
}

export interface PreparedDecision {
  request: RequestInput;
  certificate?: IssuedCertificateInput;
  approval?: { approver: string };
}

/** One unit of the group commit: an audit event, with the decision it records if any. */
export interface PreparedEntry {
  decision?: PreparedDecision;
  event: PreparedEvent;
}

const AUDIT_EVENT_TYPES = {
  'ssh.issued': true,
  'ssh.denied': true,
  'request.pending': true,
  'request.approved': true,
  'request.denied': true,
  'request.expired': true,
  'x509.issued': true,
  'x509.denied': true,
  'ca.created': true,
  'ca.rotated': true,
} as const satisfies Record<AuditEventType, true>;

const REQUEST_STATES = {
  pending: true,
  approved: true,
  issued: true,
  denied: true,
  expired: true,
} as const satisfies Record<RequestState, true>;

const CERTIFICATE_KINDS = { 'ssh-user': true, 'x509-client': true } as const satisfies Record<CertificateKind, true>;

const MAX_TEXT = 4096;
const MAX_CERTIFICATE = 65536;
const MAX_SERIAL = 2n ** 64n - 1n;
// RFC 3339 date-time (§5.6), as Date.prototype.toISOString writes it and as the API accepts.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function prepareAuditEvent(event: AuditEventInput): PreparedEntry {
  return { event: prepareEvent(event, 'event') };
}

export function prepareDecisionEntry(entry: DecisionEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null) throw invalid('entry', 'must be an object');
  const request = prepareRequest(entry.request);
  const event = prepareEvent(entry.event, 'event');
  if (event.requestId === undefined) event.requestId = request.id;
  else if (event.requestId !== request.id) {
    throw invalid('event.requestId', `is ${event.requestId} but the entry records request ${request.id}`);
  }
  const decision: PreparedDecision = { request };
  if (entry.certificate !== undefined) {
    const certificate = prepareCertificate(entry.certificate);
    if (certificate.requestId !== request.id) {
      throw invalid('certificate.requestId', `is ${certificate.requestId} but the entry records request ${request.id}`);
    }
    if (certificate.kind !== request.kind) {
      throw invalid('certificate.kind', `is ${certificate.kind} but request ${request.id} is ${request.kind}`);
    }
    if (request.state !== 'issued') {
      throw invalid('request.state', `is ${request.state}; a certificate may only be recorded with state issued`);
    }
    decision.certificate = certificate;
  }
  if (entry.approval !== undefined) {
    if (typeof entry.approval !== 'object' || entry.approval === null) throw invalid('approval', 'must be an object');
    decision.approval = { approver: text(entry.approval.approver, 'approval.approver') };
  }
  return { decision, event };
}

/** Unsigned 64-bit serial as canonical decimal (no sign, no leading zeros), 1..2^64-1. */
export function checkSerial(value: unknown, field = 'serial'): string {
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,19}$/.test(value) || BigInt(value) > MAX_SERIAL) {
    throw invalid(field, 'must be a decimal string from 1 to 18446744073709551615 without leading zeros');
  }
  return value;
}

function prepareRequest(request: RequestInput): RequestInput {
  if (typeof request !== 'object' || request === null) throw invalid('request', 'must be an object');
  const prepared: RequestInput = {
    id: text(request.id, 'request.id'),
    kind: oneOf(request.kind, CERTIFICATE_KINDS, 'request.kind'),
    requester: text(request.requester, 'request.requester'),
    state: oneOf(request.state, REQUEST_STATES, 'request.state'),
    body: normaliseJsonObject(request.body, 'request.body'),
    decision: normaliseJsonObject(request.decision, 'request.decision'),
    createdAt: timestamp(request.createdAt, 'request.createdAt'),
  };
  if (request.role !== undefined) prepared.role = text(request.role, 'request.role');
  if (request.expiresAt !== undefined) prepared.expiresAt = timestamp(request.expiresAt, 'request.expiresAt');
  return prepared;
}

function prepareCertificate(certificate: IssuedCertificateInput): IssuedCertificateInput {
  if (typeof certificate !== 'object' || certificate === null) throw invalid('certificate', 'must be an object');
  if (!Array.isArray(certificate.principals)) throw invalid('certificate.principals', 'must be an array of strings');
  return {
    serial: checkSerial(certificate.serial, 'certificate.serial'),
    kind: oneOf(certificate.kind, CERTIFICATE_KINDS, 'certificate.kind'),
    identity: text(certificate.identity, 'certificate.identity'),
    keyId: text(certificate.keyId, 'certificate.keyId'),
    keyFingerprint: text(certificate.keyFingerprint, 'certificate.keyFingerprint'),
    principals: certificate.principals.map((p, i) => text(p, `certificate.principals[${i}]`)),
    scope: normaliseJsonObject(certificate.scope, 'certificate.scope'),
    validAfter: timestamp(certificate.validAfter, 'certificate.validAfter'),
    validBefore: timestamp(certificate.validBefore, 'certificate.validBefore'),
    caKeyId: text(certificate.caKeyId, 'certificate.caKeyId'),
    requestId: text(certificate.requestId, 'certificate.requestId'),
    certificate: text(certificate.certificate, 'certificate.certificate', MAX_CERTIFICATE),
  };
}

function prepareEvent(event: AuditEventInput, field: string): PreparedEvent {
  if (typeof event !== 'object' || event === null) throw invalid(field, 'must be an object');
  const prepared: PreparedEvent = {
    type: oneOf(event.type, AUDIT_EVENT_TYPES, `${field}.type`),
    actor: text(event.actor, `${field}.actor`),
    data: normaliseJsonObject(event.data, `${field}.data`),
  };
  if (event.subject !== undefined) prepared.subject = text(event.subject, `${field}.subject`);
  if (event.requestId !== undefined) prepared.requestId = text(event.requestId, `${field}.requestId`);
  return prepared;
}

/**
 * Non-empty, bounded, and well-formed UTF-16: a lone surrogate would be replaced by U+FFFD when
 * written as UTF-8, so the record would read back different from what was hashed.
 */
function text(value: unknown, field: string, max = MAX_TEXT): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || !value.isWellFormed()) {
    throw invalid(field, `must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

function timestamp(value: unknown, field: string): string {
  if (typeof value !== 'string' || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw invalid(field, 'must be an RFC 3339 timestamp such as 2025-01-02T03:04:05.000Z');
  }
  return value;
}

function oneOf<T extends string>(value: unknown, allowed: Record<T, true>, field: string): T {
  if (typeof value !== 'string' || !Object.hasOwn(allowed, value)) {
    throw invalid(field, `must be one of ${Object.keys(allowed).join(', ')}`);
  }
  return value as T;
}

function invalid(field: string, problem: string): JitcaError {
  return new JitcaError(ErrorCodes.REQUEST_INVALID, `${field} ${problem}`, { details: { field } });
}
