/**
 * `audit verify --archive`: the archives (from seq 1, in order) and then the records in the
 * database, as one chain, with every truncation checked against the archive it names
 * (audit-checkpoint.ts). Memory stays flat: archives are read line by line, the database a page
 * at a time.
 */
import { readAuditArchive } from './audit-archive-file.ts';
import { createCheckpointedAuditVerifier } from './audit-checkpoint.ts';
import type { AuditAnchor, AuditRecord, AuditVerifyResult, Store } from './types.ts';

const PAGE = 1000;

/** Calls onRecord with each record after `afterSeq`, in seq order, until it returns false. */
export async function forEachAuditRecord(
  store: Pick<Store, 'listAudit'>,
  afterSeq: number,
  onRecord: (record: AuditRecord) => boolean,
): Promise<void> {
  for (let after = afterSeq; ; ) {
    const page = await store.listAudit({ afterSeq: after, limit: PAGE });
    for (const record of page) {
      if (!onRecord(record)) return;
    }
    const last = page.at(-1);
    if (last === undefined || page.length < PAGE) return;
    after = last.seq;
  }
}

export async function verifyAuditWithArchives(
  store: Pick<Store, 'auditCheckpoint' | 'listAudit'>,
  archiveFiles: readonly string[],
  anchors: readonly AuditAnchor[] = [],
): Promise<AuditVerifyResult> {
  const checkpoint = await store.auditCheckpoint();
  const verifier = createCheckpointedAuditVerifier({ anchors, checkpoint, from: 'archives' });
  let archivedThrough = 0;
  for (const file of archiveFiles) {
    const read = await readAuditArchive(file, (record) => verifier.add(record));
    if (read.sha256 === undefined) return verifier.result();
    verifier.endArchive(read.sha256);
    archivedThrough = read.last?.seq ?? archivedThrough;
  }
  // Records an archive holds that are still in the database (archived, not yet truncated) are not
  // read again: the next record's prevHash ties the database's chain to the archive's last hash.
  await forEachAuditRecord(store, archivedThrough, (record) => verifier.add(record));
  return verifier.result();
}
