/**
 * Verifying a chain that was truncated behind checkpoints (issue 21).
 *
 * `audit truncate` removes the records through the end of an archive and, in the same
 * transaction, writes a checkpoint row (the last removed record's seq and hash, the archive's
 * SHA-256) and an `audit.truncated` record naming the same three values. The record is what makes
 * the checkpoint trustworthy: it is chained like any other, so the row alone proves nothing.
 *
 * - From the database alone, the chain starts after the newest checkpoint; the newest
 *   `audit.truncated` record must name exactly that checkpoint, or the result is
 *   `checkpoint-unrecorded` (a row added, edited or deleted behind jitca's back).
 * - With the archives (every one from seq 1, in order), the chain is verified end to end, and each
 *   `audit.truncated` record must name, by last seq, last hash and SHA-256, the archive given for
 *   the records it removed (`archive-mismatch`); an archive that no `audit.archived` or
 *   `audit.truncated` record names is `archive-unrecorded`.
 *
 * What this cannot show on its own, any more than the chain can: whoever can write the database
 * can delete old records and append a truncation record of their own. The anchors kept outside
 * (serve's "audit head" lines, the line `audit truncate` prints) show it: an anchor at or before
 * the checkpoint can then only be checked with an archive, which will not exist.
 */
import { createAuditChainVerifier } from './audit-chain.ts';
import type { AuditChainVerifier } from './audit-chain.ts';
import type { AuditAnchor, AuditBreakReason, AuditCheckpoint, AuditRecord, AuditVerifyResult } from './types.ts';

/** What `audit.archived` and `audit.truncated` records hold in `data` about their archive. */
export interface AuditArchiveNaming {
  /** The archive's last record. */
  throughSeq: number;
  throughHash: string;
  sha256: string;
}

export interface CheckpointedVerifierOptions {
  anchors?: readonly AuditAnchor[];
  /** The database's newest checkpoint; undefined when the log was never truncated. */
  checkpoint: AuditCheckpoint | undefined;
  /**
   * `database`: only the records in the database, which start after the checkpoint.
   * `archives`: from seq 1, the archives' records first (endArchive after each), then the database's.
   */
  from: 'database' | 'archives';
}

export interface CheckpointedAuditVerifier extends AuditChainVerifier {
  /** The records added since the previous call were one archive file with this SHA-256. */
  endArchive(sha256: string): void;
}

export function createCheckpointedAuditVerifier(options: CheckpointedVerifierOptions): CheckpointedAuditVerifier {
  const { checkpoint } = options;
  const chain = createAuditChainVerifier(
    options.anchors,
    options.from === 'database' && checkpoint !== undefined ? { seq: checkpoint.seq, hash: checkpoint.hash } : undefined,
  );
  /** Archives ended so far, by their last record's seq. */
  const archives = new Map<number, { sha256: string; lastHash: string; named: boolean }>();
  let last: AuditAnchor | undefined;
  let newestTruncation: AuditArchiveNaming | undefined;
  let broken: { records: number; firstBroken: NonNullable<AuditVerifyResult['firstBroken']> } | undefined;
  let verified = 0;

  const breakAt = (seq: number, reason: AuditBreakReason): false => {
    broken ??= { records: verified, firstBroken: { seq, reason } };
    return false;
  };

  return {
    add(record: AuditRecord): boolean {
      if (broken !== undefined || !chain.add(record)) return false;
      if (record.type === 'audit.truncated' || record.type === 'audit.archived') {
        const naming = archiveNamingOf(record);
        if (record.type === 'audit.truncated') newestTruncation = naming;
        if (options.from === 'archives') {
          const archive = naming === undefined ? undefined : archives.get(naming.throughSeq);
          const matches = archive !== undefined && archive.sha256 === naming?.sha256 && archive.lastHash === naming.throughHash;
          // A truncation removed records: the archive given for them must be the one it names.
          // An archive recorded but never truncated may simply not have been given.
          if (matches) archive.named = true;
          else if (record.type === 'audit.truncated' || archive !== undefined) return breakAt(record.seq, 'archive-mismatch');
        }
      }
      verified += 1;
      last = { seq: record.seq, hash: record.hash };
      return true;
    },
    endArchive(sha256: string): void {
      if (last !== undefined && !archives.has(last.seq)) archives.set(last.seq, { sha256, lastHash: last.hash, named: false });
    },
    result(): AuditVerifyResult {
      if (broken !== undefined) return { ok: false, ...broken };
      const result = chain.result();
      if (!result.ok) return result;
      const recorded =
        checkpoint === undefined
          ? newestTruncation === undefined
          : newestTruncation?.throughSeq === checkpoint.seq &&
            newestTruncation.throughHash === checkpoint.hash &&
            newestTruncation.sha256 === checkpoint.archiveSha256;
      if (!recorded) {
        return { ok: false, records: result.records, firstBroken: { seq: checkpoint?.seq ?? newestTruncation?.throughSeq ?? 0, reason: 'checkpoint-unrecorded' } };
      }
      for (const [lastSeq, archive] of archives) {
        if (!archive.named) return { ok: false, records: result.records, firstBroken: { seq: lastSeq, reason: 'archive-unrecorded' } };
      }
      return result;
    },
  };
}

/** The archive a record names; undefined when its data does not (a record forged by hand). */
export function archiveNamingOf(record: AuditRecord): AuditArchiveNaming | undefined {
  const { throughSeq, throughHash, sha256 } = record.data;
  if (!Number.isSafeInteger(throughSeq) || typeof throughHash !== 'string' || typeof sha256 !== 'string') return undefined;
  return { throughSeq: throughSeq as number, throughHash, sha256 };
}
