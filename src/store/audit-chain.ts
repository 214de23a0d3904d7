/**
 * The tamper-evident audit chain. Each record's hash is SHA-256 over the canonical JSON of
 * {seq, at, type, actor, subject, requestId, data, prevHash}, and prevHash is the previous
 * record's hash (64 zeros for seq 1). Changing, deleting or reordering a record therefore breaks
 * the chain at that record.
 *
 * Known limits (need an external anchor, e.g. the head hash published to the log shipper or
 * signed by the CA key at intervals, to detect):
 * - Truncation: deleting the newest records leaves a shorter chain that still verifies.
 * - Rewriting: whoever can write the database can recompute every hash from the edited record
 *   onwards; the chain only detects edits that were not followed by re-hashing the suffix.
 */
import { hash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { AuditRecord, AuditVerifyResult } from './types.ts';

export const GENESIS_PREV_HASH = '0'.repeat(64);

export type UnhashedAuditRecord = Omit<AuditRecord, 'hash'>;

export function auditRecordHash(record: UnhashedAuditRecord): string {
  return auditContentHash(record, canonicalJson(record.data));
}

/**
 * auditRecordHash for a record whose data is already canonical text (the store's write path, which
 * serialised data once while validating it). The text below is canonicalJson of
 * {seq, at, type, actor, subject, requestId, data, prevHash}, spelled out with its keys already in
 * sorted order so the object never has to be built and sorted. Absent subject/requestId hash as
 * null so every record hashes the same set of keys.
 */
export function auditContentHash(record: Omit<UnhashedAuditRecord, 'data'>, dataJson: string): string {
  const content =
    `{"actor":${canonicalJson(record.actor)},"at":${canonicalJson(record.at)},"data":${dataJson},` +
    `"prevHash":${canonicalJson(record.prevHash)},"requestId":${canonicalJson(record.requestId ?? null)},` +
    `"seq":${canonicalJson(record.seq)},"subject":${canonicalJson(record.subject ?? null)},"type":${canonicalJson(record.type)}}`;
  return hash('sha256', content, 'hex');
}

export interface AuditChainVerifier {
  /** Checks the next record in seq order; false once the chain is broken (later records are ignored). */
  add(record: AuditRecord): boolean;
  result(): AuditVerifyResult;
}

/**
 * Incremental verification, so a long log can be checked page by page. `records` in the result
 * counts the records that verified; `firstBroken.seq` is the first record that did not, or for a
 * sequence gap the first missing seq.
 */
export function createAuditChainVerifier(): AuditChainVerifier {
  let expectedSeq = 1;
  let expectedPrevHash = GENESIS_PREV_HASH;
  let verified = 0;
  let firstBroken: AuditVerifyResult['firstBroken'];

  return {
    add(record: AuditRecord): boolean {
      if (firstBroken !== undefined) return false;
      if (record.seq !== expectedSeq) {
        firstBroken = { seq: expectedSeq, reason: 'sequence-gap' };
        return false;
      }
      if (safeHash(record) !== record.hash) {
        firstBroken = { seq: record.seq, reason: 'hash-mismatch' };
        return false;
      }
      if (record.prevHash !== expectedPrevHash) {
        firstBroken = { seq: record.seq, reason: 'prev-hash-mismatch' };
        return false;
      }
      verified += 1;
      expectedSeq += 1;
      expectedPrevHash = record.hash;
      return true;
    },
    result(): AuditVerifyResult {
      return firstBroken === undefined
        ? { ok: true, records: verified }
        : { ok: false, records: verified, firstBroken };
    },
  };
}

/** Records must be in ascending seq order (as listAudit returns them). */
export function verifyAuditChain(records: Iterable<AuditRecord>): AuditVerifyResult {
  const verifier = createAuditChainVerifier();
  for (const record of records) {
    if (!verifier.add(record)) break;
  }
  return verifier.result();
}

/** A record whose data cannot even be serialised (edited by hand) simply does not match. */
function safeHash(record: AuditRecord): string | undefined {
  try {
    return auditRecordHash(record);
  } catch {
    return undefined;
  }
}
