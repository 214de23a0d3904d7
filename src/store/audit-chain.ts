/**
 * The tamper-evident audit chain. Each record's hash is SHA-256 over the canonical JSON of
 * {seq, at, type, actor, subject, requestId, data, prevHash}, and prevHash is the previous
 * record's hash (64 zeros for seq 1). Changing, deleting or reordering a record therefore breaks
 * the chain at that record.
 *
 * Two things the chain alone cannot show, and anchors (AuditAnchor: a seq and hash kept outside
 * the database, e.g. from serve's periodic "audit head" log line) can:
 * - Truncation: deleting the newest records leaves a shorter chain that still verifies.
 * - Rewriting: whoever can write the database can recompute every hash from the edited record
 *   onwards; the chain only detects edits that were not followed by re-hashing the suffix.
 */
import { hash } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { canonicalJson } from './canonical-json.ts';
import type { AuditAnchor, AuditRecord, AuditVerifyResult } from './types.ts';

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
 * sequence gap or a truncation the first missing seq. Each anchor must name a record of the
 * chain with exactly that hash (see AuditAnchor). Malformed anchors are ERR_REQUEST_INVALID.
 *
 * `after` verifies a part of the log that does not begin at seq 1 (an export resumed after a
 * record): the record it names (seq and hash, trusted as given) is the one the first record
 * checked must follow. Anchors must then lie after it.
 */
export function createAuditChainVerifier(anchors: readonly AuditAnchor[] = [], after?: AuditAnchor): AuditChainVerifier {
  if (after !== undefined) checkAnchor(after);
  const anchorHashes = new Map<number, string>();
  for (const anchor of anchors) {
    checkAnchor(anchor);
    if (anchorHashes.has(anchor.seq) && anchorHashes.get(anchor.seq) !== anchor.hash) {
      throw new JitcaError(ErrorCodes.REQUEST_INVALID, `two anchors name seq ${anchor.seq} with different hashes`);
    }
    if (after !== undefined && anchor.seq <= after.seq) {
      throw new JitcaError(ErrorCodes.REQUEST_INVALID, `anchor ${anchor.seq} is not after the starting record ${after.seq}: it cannot be checked here (before a checkpoint, audit verify --archive checks it)`);
    }
    anchorHashes.set(anchor.seq, anchor.hash);
  }
  const highestAnchor = Math.max(0, ...anchorHashes.keys());
  let expectedSeq = (after?.seq ?? 0) + 1;
  let expectedPrevHash = after?.hash ?? GENESIS_PREV_HASH;
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
      const anchored = anchorHashes.get(record.seq);
      if (anchored !== undefined && anchored !== record.hash) {
        firstBroken = { seq: record.seq, reason: 'anchor-mismatch' };
        return false;
      }
      verified += 1;
      expectedSeq += 1;
      expectedPrevHash = record.hash;
      return true;
    },
    result(): AuditVerifyResult {
      if (firstBroken === undefined && highestAnchor >= expectedSeq) firstBroken = { seq: expectedSeq, reason: 'truncated' };
      return firstBroken === undefined ? { ok: true, records: verified } : { ok: false, records: verified, firstBroken };
    },
  };
}

const ANCHOR_TEXT = /^([1-9][0-9]{0,15}):([0-9a-f]{64})$/;

/** "seq:hash" as `jitca audit head` prints it and serve logs it. */
export function parseAuditAnchor(text: string): AuditAnchor {
  const match = ANCHOR_TEXT.exec(text);
  if (match === null) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `audit anchor "${text.slice(0, 100)}" must be <seq>:<64 lowercase hex digits>, as "jitca audit head" prints it`);
  }
  return { seq: Number(match[1]), hash: match[2] as string };
}

function checkAnchor(anchor: AuditAnchor): void {
  if (!Number.isSafeInteger(anchor?.seq) || anchor.seq < 1 || typeof anchor.hash !== 'string' || !/^[0-9a-f]{64}$/.test(anchor.hash)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'an audit anchor is a positive seq and a 64-digit lowercase hex hash');
  }
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
