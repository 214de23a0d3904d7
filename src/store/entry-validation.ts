/**
 * Checks and normalises what callers hand the store before anything is queued, so a bad entry is
 * rejected on its own (ERR_REQUEST_INVALID) and never reaches a shared transaction, and so the
 * audit hash is computed over exactly the values that will read back from the database.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';
import { canonicalJson, canonicalObjectText, canonicaliseJsonObject } from './canonical-json.ts';
import type { PreparedAuditTruncation } from './audit-checkpoint-repository.ts';
import type {
  AuditEventInput,
  LocalUser,
  AuditEventType,
  CaGeneration,
  CaGenerationState,
  CaGenerationsEntry,
  RotationFence,
  CaKind,
  CertificateKind,
  DecisionEntry,
  EnrolledKey,
  IssuedCertificateInput,
  LeaderFence,
  NotificationDeadEntry,
  RequestInput,
  RequestState,
  RetentionEntry,
  RevocationEntry,
} from './types.ts';

/** The audit event as it will be hashed and stored. */
export interface PreparedEvent {
  type: AuditEventType;
  actor: string;
  subject?: string;
  requestId?: string;
  /** Normalised: exactly as it reads back from the database (returned in the AuditRecord). */
  data: Record<string, unknown>;
  /** canonicalJson(data), written to the row and hashed as is. */
  dataJson: string;
}

/** The request row's content; JSON members as their canonical text (nothing reads them back). */
export interface PreparedRequest {
  id: string;
  kind: CertificateKind;
  requester: string;
  role?: string;
  state: RequestState;
  bodyJson: string;
  decisionJson: string;
  createdAt: string;
  expiresAt?: string;
  expectedVersion?: number;
}

export interface PreparedCertificate {
  serial: string;
  kind: CertificateKind;
  identity: string;
  keyId: string;
  keyFingerprint: string;
  principalsJson: string;
  scopeJson: string;
  validAfter: string;
  validBefore: string;
  caKeyId: string;
  requestId: string;
  certificate: string;
}

export interface PreparedDecision {
  request: PreparedRequest;
  certificate?: PreparedCertificate;
  approval?: { approver: string; reason?: string };
}

export interface PreparedRevocation {
  serial: string;
  caKeyId: string;
  validBefore: string;
  revokedBy: string;
  reason: string;
}

/** One unit of the group commit: an audit event, with the decision it records if any. */
export interface PreparedEntry {
  decision?: PreparedDecision;
  revocation?: PreparedRevocation;
  caGenerations?: CaGeneration[];
  /** A key enrolled (enrolled-key-entry.ts). */
  enrolledKey?: Omit<EnrolledKey, 'enrolledAt'>;
  /** A key's enrollment removed: the row with this id and owner must exist. */
  removedKey?: { id: string; owner: string };

  /** An outbox row given up (src/notify): it must still be pending at this attempt. */
  deadNotification?: { id: string; attempt: number; error: string; leader?: LeaderFence };
  /** A local user registered (local-user-entry.ts). */
  localUser?: Omit<LocalUser, 'addedAt'>;
  /** A local user removed: the row with this name must exist. */
  removedLocalUser?: string;

  /** Ids of requests whose rows are removed (retention). */
  retiredRequestIds?: string[];
  /** Audit records removed behind a checkpoint (audit-truncation-entry.ts). */
  auditTruncation?: PreparedAuditTruncation;
  fence?: RotationFence;
  event: PreparedEvent;
}

const AUDIT_EVENT_TYPES = {
  'ssh.issued': true,
  'ssh.denied': true,
  'ssh.revoked': true,
  'request.pending': true,
  'request.approved': true,
  'request.denied': true,
  'request.expired': true,
  'request.expiring': true,
  'x509.issued': true,
  'x509.denied': true,
  'csr.approved': true,
  'csr.denied': true,
  'csr.signed': true,
  'csr.failed': true,
  'ca.created': true,
  'ca.rotated': true,
  'ca.generations': true,
  'policy.loaded': true,
  'policy.refused': true,
  'ha.leader': true,
  'key.enrolled': true,
  'key.removed': true,
  'user.added': true,
  'user.removed': true,
  'user.session': true,
  'gateway.session.started': true,
  'gateway.session.ended': true,

  'retention.pruned': true,
  'notification.dead': true,

  'audit.archived': true,
  'audit.truncated': true,
} as const satisfies Record<AuditEventType, true>;

const REQUEST_STATES = {
  pending: true,
  approved: true,
  issued: true,
  denied: true,
  expired: true,
} as const satisfies Record<RequestState, true>;

const CA_KINDS = { 'ssh-user': true, 'kube-client': true } as const satisfies Record<CaKind, true>;

const CA_GENERATION_STATES = { next: true, active: true, retiring: true, retired: true } as const satisfies Record<CaGenerationState, true>;

const MAX_GENERATIONS_PER_ENTRY = 64;

const CERTIFICATE_KINDS = { 'ssh-user': true, 'x509-client': true } as const satisfies Record<CertificateKind, true>;

const MAX_TEXT = 4096;
const MAX_CERTIFICATE = 65536;
const MAX_SERIAL = 2n ** 64n - 1n;
// RFC 3339 date-time (§5.6), as Date.prototype.toISOString writes it and as the API accepts.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function prepareAuditEvent(event: AuditEventInput): PreparedEntry {
  return { event: prepareEvent(event) };
}

export function prepareRevocationEntry(entry: RevocationEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null) throw invalid('entry', 'must be an object');
  return {
    revocation: {
      serial: checkSerial(entry.serial),
      caKeyId: text(entry.caKeyId, 'caKeyId'),
      validBefore: timestamp(entry.validBefore, 'validBefore'),
      revokedBy: text(entry.revokedBy, 'revokedBy'),
      reason: text(entry.reason, 'reason'),
    },
    event: prepareEvent(entry.event),
  };
}

export function prepareNotificationDeadEntry(entry: NotificationDeadEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null) throw invalid('entry', 'must be an object');
  if (!Number.isSafeInteger(entry.attempt) || entry.attempt < 1) throw invalid('attempt', 'must be a positive integer');
  const deadNotification: PreparedEntry['deadNotification'] = { id: text(entry.id, 'id'), attempt: entry.attempt, error: text(entry.error, 'error') };
  if (entry.leader !== undefined) {
    if (!Number.isSafeInteger(entry.leader.term) || entry.leader.term < 1) throw invalid('leader.term', 'must be a positive integer');
    deadNotification.leader = { name: text(entry.leader.name, 'leader.name'), holder: text(entry.leader.holder, 'leader.holder'), term: entry.leader.term };
  }
  return { deadNotification, event: prepareEvent(entry.event) };
}

export const MAX_RETIRED_PER_ENTRY = 1000;

export function prepareRetentionEntry(entry: RetentionEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null) throw invalid('entry', 'must be an object');
  if (!Array.isArray(entry.requestIds) || entry.requestIds.length === 0 || entry.requestIds.length > MAX_RETIRED_PER_ENTRY) {
    throw invalid('requestIds', `must be an array of 1 to ${MAX_RETIRED_PER_ENTRY} request ids`);
  }
  return { retiredRequestIds: entry.requestIds.map((id, i) => text(id, `requestIds[${i}]`)), event: prepareEvent(entry.event) };
}

export function prepareCaGenerationsEntry(entry: CaGenerationsEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null) throw invalid('entry', 'must be an object');
  if (!Array.isArray(entry.generations) || entry.generations.length === 0 || entry.generations.length > MAX_GENERATIONS_PER_ENTRY) {
    throw invalid('generations', `must be an array of 1 to ${MAX_GENERATIONS_PER_ENTRY} generations`);
  }
  const caGenerations = entry.generations.map((generation, i) => prepareCaGeneration(generation, `generations[${i}]`));
  if (entry.fence === undefined) return { caGenerations, event: prepareEvent(entry.event) };
  if (!Number.isSafeInteger(entry.fence.fence) || entry.fence.fence < 1) throw invalid('fence.fence', 'must be a positive integer');
  const fence = { lock: text(entry.fence.lock, 'fence.lock'), holder: text(entry.fence.holder, 'fence.holder'), fence: entry.fence.fence };
  return { caGenerations, fence, event: prepareEvent(entry.event) };
}

function prepareCaGeneration(generation: CaGeneration, field: string): CaGeneration {
  if (typeof generation !== 'object' || generation === null) throw invalid(field, 'must be an object');
  if (!Number.isSafeInteger(generation.generation) || generation.generation < 1) throw invalid(`${field}.generation`, 'must be a positive integer');
  const prepared: CaGeneration = {
    ca: oneOf(generation.ca, CA_KINDS, `${field}.ca`),
    generation: generation.generation,
    state: oneOf(generation.state, CA_GENERATION_STATES, `${field}.state`),
    keyId: text(generation.keyId, `${field}.keyId`),
    algorithm: text(generation.algorithm, `${field}.algorithm`),
    publicKey: text(generation.publicKey, `${field}.publicKey`),
    createdAt: timestamp(generation.createdAt, `${field}.createdAt`),
  };
  if (generation.activatedAt !== undefined) prepared.activatedAt = timestamp(generation.activatedAt, `${field}.activatedAt`);
  if (generation.retiringAt !== undefined) prepared.retiringAt = timestamp(generation.retiringAt, `${field}.retiringAt`);
  if (generation.retiredAt !== undefined) prepared.retiredAt = timestamp(generation.retiredAt, `${field}.retiredAt`);
  return prepared;
}

export function prepareDecisionEntry(entry: DecisionEntry): PreparedEntry {
  if (typeof entry !== 'object' || entry === null) throw invalid('entry', 'must be an object');
  const request = prepareRequest(entry.request);
  const event = prepareEvent(entry.event);
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
    if (entry.approval.reason !== undefined) decision.approval.reason = text(entry.approval.reason, 'approval.reason');
  }
  return { decision, event };
}

const SERIAL_DIGITS = /^[1-9][0-9]{0,19}$/;
// Up to 19 digits always fits (2^64-1 has 20), so only 20-digit serials need the BigInt compare.
const MAX_SERIAL_TEXT = MAX_SERIAL.toString();

/** Unsigned 64-bit serial as canonical decimal (no sign, no leading zeros), 1..2^64-1. */
export function checkSerial(value: unknown, field = 'serial'): string {
  if (
    typeof value !== 'string' ||
    !SERIAL_DIGITS.test(value) ||
    (value.length === MAX_SERIAL_TEXT.length && value > MAX_SERIAL_TEXT)
  ) {
    throw invalid(field, 'must be a decimal string from 1 to 18446744073709551615 without leading zeros');
  }
  return value;
}

// Field names are literals (not built per call): the happy path builds no strings it does not store.
function prepareRequest(request: RequestInput): PreparedRequest {
  if (typeof request !== 'object' || request === null) throw invalid('request', 'must be an object');
  const prepared: PreparedRequest = {
    id: text(request.id, 'request.id'),
    kind: oneOf(request.kind, CERTIFICATE_KINDS, 'request.kind'),
    requester: text(request.requester, 'request.requester'),
    state: oneOf(request.state, REQUEST_STATES, 'request.state'),
    bodyJson: canonicalObjectText(request.body, 'request.body'),
    decisionJson: canonicalObjectText(request.decision, 'request.decision'),
    createdAt: timestamp(request.createdAt, 'request.createdAt'),
  };
  if (request.role !== undefined) prepared.role = text(request.role, 'request.role');
  if (request.expiresAt !== undefined) prepared.expiresAt = timestamp(request.expiresAt, 'request.expiresAt');
  if (request.expectedVersion !== undefined) {
    if (!Number.isSafeInteger(request.expectedVersion) || request.expectedVersion < 0) {
      throw invalid('request.expectedVersion', 'must be a non-negative integer (a StoredRequest.version)');
    }
    prepared.expectedVersion = request.expectedVersion;
  }
  return prepared;
}

function prepareCertificate(certificate: IssuedCertificateInput): PreparedCertificate {
  if (typeof certificate !== 'object' || certificate === null) throw invalid('certificate', 'must be an object');
  if (!Array.isArray(certificate.principals)) throw invalid('certificate.principals', 'must be an array of strings');
  return {
    serial: checkSerial(certificate.serial, 'certificate.serial'),
    kind: oneOf(certificate.kind, CERTIFICATE_KINDS, 'certificate.kind'),
    identity: text(certificate.identity, 'certificate.identity'),
    keyId: text(certificate.keyId, 'certificate.keyId'),
    keyFingerprint: text(certificate.keyFingerprint, 'certificate.keyFingerprint'),
    principalsJson: principalsJson(certificate.principals),
    scopeJson: canonicalObjectText(certificate.scope, 'certificate.scope'),
    validAfter: timestamp(certificate.validAfter, 'certificate.validAfter'),
    validBefore: timestamp(certificate.validBefore, 'certificate.validBefore'),
    caKeyId: text(certificate.caKeyId, 'certificate.caKeyId'),
    requestId: text(certificate.requestId, 'certificate.requestId'),
    certificate: text(certificate.certificate, 'certificate.certificate', MAX_CERTIFICATE),
  };
}

function principalsJson(principals: unknown[]): string {
  for (let i = 0; i < principals.length; i++) {
    const principal = principals[i];
    if (!isText(principal, MAX_TEXT)) text(principal, `certificate.principals[${i}]`);
  }
  // An array of well-formed strings: its canonical JSON is JSON.stringify's.
  return canonicalJson(principals);
}

export function prepareEvent(event: AuditEventInput): PreparedEvent {
  if (typeof event !== 'object' || event === null) throw invalid('event', 'must be an object');
  const type = oneOf(event.type, AUDIT_EVENT_TYPES, 'event.type');
  const actor = text(event.actor, 'event.actor');
  const data = canonicaliseJsonObject(event.data, 'event.data');
  const prepared: PreparedEvent = { type, actor, data: data.value, dataJson: data.text };
  if (event.subject !== undefined) prepared.subject = text(event.subject, 'event.subject');
  if (event.requestId !== undefined) prepared.requestId = text(event.requestId, 'event.requestId');
  return prepared;
}

/**
 * Non-empty, bounded, and well-formed UTF-16: a lone surrogate would be replaced by U+FFFD when
 * written as UTF-8, so the record would read back different from what was hashed.
 */
export function text(value: unknown, field: string, max = MAX_TEXT): string {
  if (!isText(value, max)) throw invalid(field, `must be a non-empty string of at most ${max} characters`);
  return value;
}

function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max && value.isWellFormed();
}

export function timestamp(value: unknown, field: string): string {
  if (typeof value !== 'string' || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw invalid(field, 'must be an RFC 3339 timestamp such as 2025-01-02T03:04:05.000Z');
  }
  return value;
}

export function oneOf<T extends string>(value: unknown, allowed: Record<T, true>, field: string): T {
  if (typeof value !== 'string' || !Object.hasOwn(allowed, value)) {
    throw invalid(field, `must be one of ${Object.keys(allowed).join(', ')}`);
  }
  return value as T;
}

export function invalid(field: string, problem: string): JitcaError {
  return new JitcaError(ErrorCodes.REQUEST_INVALID, `${field} ${problem}`, { details: { field } });
}
