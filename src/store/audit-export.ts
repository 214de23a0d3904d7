/**
 * The audit log as JSON Lines, for a copy outside the CA's database (a SIEM, an object store with
 * retention lock): one record per line, in seq order, each line the canonical JSON (RFC 8785) of
 * the record with its prevHash and hash. A copy can then be verified on its own, with no access to
 * the CA (`jitca audit verify --file`), and a shipper resumes after the last seq it holds.
 *
 * Reading a copy back is strict, because the copy is exactly what an attacker would edit: every
 * line must be one JSON object with exactly the record's members, no duplicate keys, and the
 * types the store writes. A line that is not is refused by number; a well-formed line that was
 * edited is left to the hash chain to catch.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';
import { findDuplicateKey } from '../policy/json-duplicates.ts';
import { createAuditChainVerifier } from './audit-chain.ts';
import { canonicalJson } from './canonical-json.ts';
import type { AuditAnchor, AuditEventType, AuditRecord, AuditVerifyResult } from './types.ts';

const MEMBERS = ['actor', 'at', 'data', 'hash', 'prevHash', 'requestId', 'seq', 'subject', 'type'] as const;
const HASH = /^[0-9a-f]{64}$/;
/** A line longer than this is not a record jitca wrote (records hold names, serials, scopes). */
const MAX_LINE_LENGTH = 1024 * 1024;

/** One record as its export line, without the newline. Absent subject/requestId are written as null. */
export function auditExportLine(record: AuditRecord): string {
  return canonicalJson({
    actor: record.actor,
    at: record.at,
    data: record.data,
    hash: record.hash,
    prevHash: record.prevHash,
    requestId: record.requestId ?? null,
    seq: record.seq,
    subject: record.subject ?? null,
    type: record.type,
  });
}

/** Parses one export line (1-based `lineNumber` for the error) back into the record it came from. */
export function parseAuditExportLine(line: string, lineNumber: number): AuditRecord {
  const refuse = (why: string): JitcaError =>
    new JitcaError(ErrorCodes.REQUEST_INVALID, `audit export line ${lineNumber}: ${why}`, { details: { line: lineNumber } });
  if (line.length > MAX_LINE_LENGTH) throw refuse(`longer than ${MAX_LINE_LENGTH} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw refuse('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw refuse('not a JSON object');
  const duplicate = findDuplicateKey(line);
  if (duplicate !== undefined) throw refuse(`duplicate key at ${duplicate}`);
  const members = parsed as Record<string, unknown>;
  const keys = Object.keys(members).sort();
  if (keys.length !== MEMBERS.length || keys.some((key, i) => key !== MEMBERS[i])) {
    throw refuse(`members must be exactly ${MEMBERS.join(', ')}`);
  }
  const { seq, at, type, actor, subject, requestId, data, prevHash, hash } = members;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw refuse('seq must be a positive integer');
  if (typeof at !== 'string' || typeof type !== 'string' || typeof actor !== 'string') throw refuse('at, type and actor must be strings');
  if (subject !== null && typeof subject !== 'string') throw refuse('subject must be a string or null');
  if (requestId !== null && typeof requestId !== 'string') throw refuse('requestId must be a string or null');
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw refuse('data must be a JSON object');
  if (typeof prevHash !== 'string' || !HASH.test(prevHash) || typeof hash !== 'string' || !HASH.test(hash)) {
    throw refuse('prevHash and hash must be 64 lowercase hex digits');
  }
  // The type is not checked against today's event names: an older or newer jitca may have
  // written it, and the hash covers it either way.
  const record: AuditRecord = { seq, at, type: type as AuditEventType, actor, data: data as Record<string, unknown>, prevHash, hash };
  if (subject !== null) record.subject = subject;
  if (requestId !== null) record.requestId = requestId;
  return record;
}

/**
 * Verifies an exported copy line by line (the copy may be larger than memory). `after` is the
 * record the copy continues from when it does not begin at seq 1. A malformed line is refused
 * (ERR_REQUEST_INVALID naming it) even after the chain broke, so nothing is skipped unread.
 */
export async function verifyAuditExport(
  lines: AsyncIterable<string>,
  anchors: readonly AuditAnchor[] = [],
  after?: AuditAnchor,
): Promise<AuditVerifyResult> {
  const verifier = createAuditChainVerifier(anchors, after);
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber += 1;
    verifier.add(parseAuditExportLine(line, lineNumber));
  }
  return verifier.result();
}
