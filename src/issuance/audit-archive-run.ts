/**
 * Archiving the audit log and truncating it behind a checkpoint (issue 21). Two commands, run
 * separately on purpose: `audit export --archive` writes the records older than the minimum age
 * to a file and records it; `audit truncate` removes them only once that file is shown to be the
 * one recorded and the chain in the database still verifies.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Clock } from '../clock.ts';
import { createDurableFile } from '../durable-file.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { createAuditChainVerifier, GENESIS_PREV_HASH } from '../store/audit-chain.ts';
import type { AuditChainVerifier } from '../store/audit-chain.ts';
import { readAuditArchive } from '../store/audit-archive-file.ts';
import { forEachAuditRecord } from '../store/audit-archive-verify.ts';
import { archiveNamingOf, createCheckpointedAuditVerifier } from '../store/audit-checkpoint.ts';
import { auditExportLine } from '../store/audit-export.ts';
import type { AuditAnchor, AuditRecord, Store } from '../store/types.ts';

const DAY_MS = 86_400_000;

export interface AuditArchiveOptions {
  store: Pick<Store, 'auditCheckpoint' | 'listAudit' | 'appendAudit'>;
  clock: Clock;
  /** Only records at least this old are archived (config retention.auditMinAgeDays). */
  minAgeDays: number;
  /**
   * At most this many records per archive: each becomes one truncation, whose transaction holds
   * the write lock (every replica's, on PostgreSQL) while it deletes them.
   */
  maxRecords: number;
  file: string;
  actor: string;
}

export interface AuditArchiveResult {
  file: string;
  sha256: string;
  records: number;
  firstSeq: number;
  through: AuditAnchor;
}

/**
 * Writes the records after the checkpoint that are at least minAgeDays old, in seq order up to
 * the first younger one (at most maxRecords), to `file` (export lines; durable before anything is recorded), then
 * appends an `audit.archived` record naming the file, its SHA-256 and its first and last record.
 * Undefined, and no file, when there is nothing that old. A chain that does not verify from the
 * checkpoint is ERR_AUDIT_CHAIN_BROKEN and nothing is written. Killed at any point, the run leaves
 * no file, or a file that no record names (truncate refuses it); run it again.
 */
export async function archiveAudit(options: AuditArchiveOptions): Promise<AuditArchiveResult | undefined> {
  const checkpoint = await options.store.auditCheckpoint();
  const verifier = createAuditChainVerifier([], checkpoint === undefined ? undefined : { seq: checkpoint.seq, hash: checkpoint.hash });
  const cutoff = options.clock.now() - options.minAgeDays * DAY_MS;
  const writer = createDurableFile(options.file);
  const digest = createHash('sha256');
  let first: AuditRecord | undefined;
  let last: AuditRecord | undefined;
  let records = 0;
  try {
    await forEachAuditRecord(options.store, checkpoint?.seq ?? 0, (record) => {
      if (records >= options.maxRecords || Date.parse(record.at) >= cutoff) return false;
      if (!verifier.add(record)) throw chainBroken(verifier);
      const line = `${auditExportLine(record)}\n`;
      writer.write(line);
      digest.update(line);
      first ??= record;
      last = record;
      records += 1;
      return true;
    });
  } catch (error) {
    writer.abort();
    throw error;
  }
  if (first === undefined || last === undefined) {
    writer.abort();
    return undefined;
  }
  writer.commit();
  const result: AuditArchiveResult = {
    file: path.basename(options.file),
    sha256: digest.digest('hex'),
    records,
    firstSeq: first.seq,
    through: { seq: last.seq, hash: last.hash },
  };
  await options.store.appendAudit({
    type: 'audit.archived',
    actor: options.actor,
    data: { ...namingData(result), createdBefore: new Date(cutoff).toISOString() },
  });
  return result;
}

export interface AuditTruncateOptions {
  store: Pick<Store, 'auditCheckpoint' | 'listAudit' | 'recordAuditTruncation'>;
  clock: Clock;
  minAgeDays: number;
  /** An archive written by archiveAudit. */
  file: string;
  actor: string;
}

export interface AuditTruncateResult {
  /** False when this archive's records were already truncated (a run killed after its commit). */
  truncated: boolean;
  records: number;
  checkpoint: AuditAnchor;
  /** The audit.truncated record: an anchor to keep outside the database. */
  record?: AuditAnchor;
}

/**
 * Removes the records `file` holds from the database, behind a checkpoint, after checking that:
 * the file is a chain continuing from the current checkpoint (or seq 1); its newest record is at
 * least minAgeDays old; the chain in the database verifies; and an `audit.archived` record names
 * the file's SHA-256 and last record. The removal, the checkpoint row and the `audit.truncated`
 * record are one transaction, which also checks that no truncation ran since and that the
 * database's record at the archive's end has the archive's hash. Run again on the same file after
 * it committed, it answers `truncated: false` and changes nothing.
 */
export async function truncateAudit(options: AuditTruncateOptions): Promise<AuditTruncateResult> {
  const checkpoint = await options.store.auditCheckpoint();
  const archive = await readArchiveChain(options.file);
  const { first, last, sha256 } = archive;
  const refuse = (why: string): JitcaError =>
    new JitcaError(ErrorCodes.AUDIT_ARCHIVE_INVALID, `${options.file}: ${why}; nothing was removed`, { details: { file: path.basename(options.file) } });
  if (checkpoint !== undefined && last.seq === checkpoint.seq) {
    if (last.hash === checkpoint.hash && sha256 === checkpoint.archiveSha256) {
      return { truncated: false, records: archive.records, checkpoint: { seq: checkpoint.seq, hash: checkpoint.hash } };
    }
    throw refuse(`it ends at the checkpoint (seq ${checkpoint.seq}) but is not the archive truncated there`);
  }
  const startsAfter = checkpoint?.seq ?? 0;
  if (first.seq !== startsAfter + 1 || first.prevHash !== (checkpoint?.hash ?? GENESIS_PREV_HASH)) {
    throw refuse(`it starts at seq ${first.seq}, but the log in the database continues from seq ${startsAfter + 1}`);
  }
  const cutoff = options.clock.now() - options.minAgeDays * DAY_MS;
  if (Date.parse(last.at) >= cutoff) {
    throw new JitcaError(
      ErrorCodes.AUDIT_TRUNCATE_REFUSED,
      `${options.file}: its newest record (seq ${last.seq}, ${last.at}) is younger than ${options.minAgeDays} days (retention.auditMinAgeDays); nothing was removed`,
    );
  }

  // One pass over the database's chain: it must verify (truncating a broken log would remove the
  // evidence), and somewhere after the archive's end an audit.archived record must name it.
  const verifier = createCheckpointedAuditVerifier({ checkpoint, from: 'database' });
  let recorded = false;
  await forEachAuditRecord(options.store, startsAfter, (record) => {
    if (!verifier.add(record)) return false;
    if (record.type === 'audit.archived') {
      const naming = archiveNamingOf(record);
      recorded ||= naming?.throughSeq === last.seq && naming.throughHash === last.hash && naming.sha256 === sha256;
    }
    return true;
  });
  const verified = verifier.result();
  if (!verified.ok) {
    throw new JitcaError(
      ErrorCodes.AUDIT_CHAIN_BROKEN,
      `the audit log in the database does not verify (seq ${verified.firstBroken?.seq}, ${verified.firstBroken?.reason}): nothing was removed`,
      { details: { ...verified.firstBroken } },
    );
  }
  if (!recorded) throw refuse('no audit.archived record names this file (its SHA-256 and last record): write archives with `jitca audit export --archive`');

  const naming = namingData({ file: path.basename(options.file), sha256, records: archive.records, firstSeq: first.seq, through: last });
  const record = await options.store.recordAuditTruncation({
    previousSeq: startsAfter,
    throughSeq: last.seq,
    throughHash: last.hash,
    archiveSha256: sha256,
    archiveFile: path.basename(options.file),
    event: { type: 'audit.truncated', actor: options.actor, data: { ...naming, minAgeDays: options.minAgeDays } },
  });
  return { truncated: true, records: archive.records, checkpoint: { seq: last.seq, hash: last.hash }, record: { seq: record.seq, hash: record.hash } };
}

/** The archive's records must chain among themselves (where it starts is checked by the caller). */
async function readArchiveChain(file: string): Promise<{ first: AuditRecord; last: AuditRecord; sha256: string; records: number }> {
  let verifier: AuditChainVerifier | undefined;
  const read = await readAuditArchive(file, (record) => {
    verifier ??= createAuditChainVerifier([], record.seq === 1 ? undefined : { seq: record.seq - 1, hash: record.prevHash });
    return verifier.add(record);
  });
  const { first, last, sha256 } = read;
  if (verifier === undefined || first === undefined || last === undefined) {
    throw new JitcaError(ErrorCodes.AUDIT_ARCHIVE_INVALID, `${file} holds no audit records; nothing was removed`);
  }
  const result = verifier.result();
  if (!result.ok || sha256 === undefined) {
    throw new JitcaError(
      ErrorCodes.AUDIT_ARCHIVE_INVALID,
      `${file}: its records do not chain (seq ${result.firstBroken?.seq}, ${result.firstBroken?.reason}); nothing was removed`,
      { details: { ...result.firstBroken } },
    );
  }
  return { first, last, sha256, records: read.records };
}

/** What audit.archived and audit.truncated records say about their archive (archiveNamingOf reads it back). */
function namingData(archive: AuditArchiveResult): Record<string, unknown> {
  return {
    file: archive.file,
    sha256: archive.sha256,
    records: archive.records,
    firstSeq: archive.firstSeq,
    throughSeq: archive.through.seq,
    throughHash: archive.through.hash,
  };
}

function chainBroken(verifier: AuditChainVerifier): JitcaError {
  const { firstBroken } = verifier.result();
  return new JitcaError(
    ErrorCodes.AUDIT_CHAIN_BROKEN,
    `the audit log does not verify (seq ${firstBroken?.seq}, ${firstBroken?.reason}): no archive was written`,
    { details: { ...firstBroken } },
  );
}
