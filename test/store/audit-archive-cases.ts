/**
 * Archiving and truncating the audit log behind checkpoints, written once and run against every
 * store (audit-archive.test.ts for SQLite, postgres-store.test.ts for PostgreSQL). `tamper` runs
 * one SQL statement outside the store, as an operator (or an attacker) with a database shell would.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { fixedClock } from '../../src/clock.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { archiveAudit, truncateAudit } from '../../src/issuance/audit-archive-run.ts';
import { verifyAuditWithArchives } from '../../src/store/audit-archive-verify.ts';
import type { Store } from '../../src/store/types.ts';
import { codeOfAsync } from '../support/error-codes.ts';

const DAY_MS = 86_400_000;
const MIN_AGE_DAYS = 30;

export async function checkAuditArchive(store: Store, clock: ReturnType<typeof fixedClock>, tamper: (statement: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'jitca-audit-archive-'));
  try {
    await run(store, clock, tamper, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function run(store: Store, clock: ReturnType<typeof fixedClock>, tamper: (statement: string) => Promise<void>, dir: string): Promise<void> {
  const append = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) await store.appendAudit({ type: 'ca.rotated', actor: 'system', data: { i } });
  };
  const options = (file: string, minAgeDays = MIN_AGE_DAYS) => ({ store, clock, minAgeDays, maxRecords: 1000, file: path.join(dir, file), actor: 'local:ops' });
  const firstSeq = async (): Promise<number | undefined> => (await store.listAudit({ limit: 1 }))[0]?.seq;

  // Records 1..20 old, 21..25 younger than the minimum age when the first archive is written.
  await append(20);
  clock.advance(40 * DAY_MS);
  await append(5);
  expect(await archiveAudit(options('empty.jsonl', 1000))).toBeUndefined();

  const first = await archiveAudit(options('a1.jsonl'));
  expect(first).toMatchObject({ file: 'a1.jsonl', records: 20, firstSeq: 1, through: { seq: 20 } });
  expect(first?.sha256).toMatch(/^[0-9a-f]{64}$/);
  const archived = (await store.listAudit({ afterSeq: 25 }))[0];
  expect(archived).toMatchObject({ seq: 26, type: 'audit.archived', data: { sha256: first?.sha256, throughSeq: 20, throughHash: first?.through.hash } });

  // Refusals change nothing: an archive younger than the minimum age, one that was edited, one no record names.
  expect(await codeOfAsync(truncateAudit(options('a1.jsonl', 60)))).toBe(ErrorCodes.AUDIT_TRUNCATE_REFUSED);
  const a1 = readFileSync(path.join(dir, 'a1.jsonl'), 'utf8');
  writeFileSync(path.join(dir, 'edited.jsonl'), a1.replace('"data":{"i":4}', '"data":{"i":40}'));
  expect(await codeOfAsync(truncateAudit(options('edited.jsonl')))).toBe(ErrorCodes.AUDIT_ARCHIVE_INVALID);
  // The same records with the members of one line reordered: a valid chain, but not the file recorded.
  const reordered = reorderFirstLine(a1);
  writeFileSync(path.join(dir, 'reordered.jsonl'), reordered);
  expect(await codeOfAsync(truncateAudit(options('reordered.jsonl')))).toBe(ErrorCodes.AUDIT_ARCHIVE_INVALID);
  expect(await firstSeq()).toBe(1);
  expect(await store.auditCheckpoint()).toBeUndefined();

  const truncated = await truncateAudit(options('a1.jsonl'));
  expect(truncated).toMatchObject({ truncated: true, records: 20, checkpoint: first?.through, record: { seq: 27 } });
  expect(await firstSeq()).toBe(21);
  expect(await store.auditCheckpoint()).toMatchObject({ seq: 20, hash: first?.through.hash, archiveSha256: first?.sha256, archiveFile: 'a1.jsonl' });
  expect(await store.verifyAudit()).toEqual({ ok: true, records: 7 });
  expect(await verifyAuditWithArchives(store, [path.join(dir, 'a1.jsonl')])).toEqual({ ok: true, records: 27 });
  // Run again after it committed (a run killed after its COMMIT): nothing more happens.
  expect(await truncateAudit(options('a1.jsonl'))).toMatchObject({ truncated: false, checkpoint: first?.through });
  expect(await firstSeq()).toBe(21);

  // An anchor in the archived part is checked against the archive, not the database.
  const anchor = { seq: 5, hash: JSON.parse(a1.split('\n')[4]!).hash as string };
  expect(await codeOfAsync(store.verifyAudit([anchor]))).toBe(ErrorCodes.REQUEST_INVALID);
  expect(await verifyAuditWithArchives(store, [path.join(dir, 'a1.jsonl')], [anchor])).toEqual({ ok: true, records: 27 });

  // A second round: 21..27 are now old enough, 28..30 are not.
  clock.advance(40 * DAY_MS);
  await append(3);
  const second = await archiveAudit(options('a2.jsonl'));
  expect(second).toMatchObject({ records: 7, firstSeq: 21, through: { seq: 27 } });
  expect(await truncateAudit(options('a2.jsonl'))).toMatchObject({ truncated: true, checkpoint: second?.through, record: { seq: 32 } });
  const archives = [path.join(dir, 'a1.jsonl'), path.join(dir, 'a2.jsonl')];
  expect(await store.verifyAudit()).toEqual({ ok: true, records: 5 });
  expect(await verifyAuditWithArchives(store, archives)).toEqual({ ok: true, records: 32 });
  // Not every archive from seq 1: the chain has a gap where the missing one belongs.
  expect(await verifyAuditWithArchives(store, archives.slice(1))).toMatchObject({ ok: false, firstBroken: { seq: 1, reason: 'sequence-gap' } });
  expect(await verifyAuditWithArchives(store, archives.slice(0, 1))).toMatchObject({ ok: false, firstBroken: { seq: 21, reason: 'sequence-gap' } });

  // A changed archive: an edited record, or the same records in other bytes than the ones recorded.
  copyFileSync(path.join(dir, 'edited.jsonl'), path.join(dir, 'a1-edited.jsonl'));
  expect(await verifyAuditWithArchives(store, [path.join(dir, 'a1-edited.jsonl'), archives[1]!])).toMatchObject({
    ok: false,
    firstBroken: { seq: 5, reason: 'hash-mismatch' },
  });
  expect(await verifyAuditWithArchives(store, [path.join(dir, 'reordered.jsonl'), archives[1]!])).toMatchObject({
    ok: false,
    firstBroken: { seq: 26, reason: 'archive-mismatch' },
  });

  // A remaining row changed.
  const [row29] = await store.listAudit({ afterSeq: 28, limit: 1 });
  await tamper(`update audit_log set actor = 'mallory' where seq = 29`);
  expect(await store.verifyAudit()).toEqual({ ok: false, records: 1, firstBroken: { seq: 29, reason: 'hash-mismatch' } });
  expect(await verifyAuditWithArchives(store, archives)).toMatchObject({ ok: false, firstBroken: { seq: 29, reason: 'hash-mismatch' } });
  await tamper(`update audit_log set actor = '${row29?.actor}' where seq = 29`);
  expect(await store.verifyAudit()).toEqual({ ok: true, records: 5 });

  // A forged checkpoint: its hash changed, or a later one added that no truncation record names.
  await tamper(`update audit_checkpoints set hash = '${'0'.repeat(64)}' where seq = 27`);
  expect(await store.verifyAudit()).toEqual({ ok: false, records: 0, firstBroken: { seq: 28, reason: 'prev-hash-mismatch' } });
  await tamper(`update audit_checkpoints set hash = '${second?.through.hash}' where seq = 27`);
  await tamper(
    `insert into audit_checkpoints (seq, hash, archive_sha256, archive_file, truncated_at) values (29, '${row29?.hash}', '${second?.sha256}', 'a3.jsonl', '2025-01-01T00:00:00.000Z')`,
  );
  expect(await store.verifyAudit()).toMatchObject({ ok: false, firstBroken: { seq: 29, reason: 'checkpoint-unrecorded' } });
  expect(await verifyAuditWithArchives(store, archives)).toMatchObject({ ok: false, firstBroken: { seq: 29, reason: 'checkpoint-unrecorded' } });
  await tamper(`delete from audit_checkpoints where seq = 29`);
  expect(await store.verifyAudit()).toEqual({ ok: true, records: 5 });

  // The transaction checks what the caller checked before it: an archive that began at another
  // checkpoint (a truncation ran since), or whose last record the database does not hold with that
  // hash, removes nothing.
  const stale = { previousSeq: 20, throughSeq: 29, throughHash: row29!.hash, archiveSha256: second!.sha256, archiveFile: 'a2.jsonl' };
  const event = { type: 'audit.truncated' as const, actor: 'local:ops', data: {} };
  expect(await codeOfAsync(store.recordAuditTruncation({ ...stale, event }))).toBe(ErrorCodes.STORE_CONFLICT);
  expect(await codeOfAsync(store.recordAuditTruncation({ ...stale, previousSeq: 27, throughHash: second!.through.hash, event }))).toBe(ErrorCodes.STORE_CONFLICT);
  expect(await store.verifyAudit()).toEqual({ ok: true, records: 5 });
  expect(await firstSeq()).toBe(28);

  // A gap: a remaining row deleted (last: it cannot be put back as it was).
  await tamper(`delete from audit_log where seq = 30`);
  expect(await store.verifyAudit()).toEqual({ ok: false, records: 2, firstBroken: { seq: 30, reason: 'sequence-gap' } });
  expect(await verifyAuditWithArchives(store, archives)).toMatchObject({ ok: false, firstBroken: { seq: 30, reason: 'sequence-gap' } });

  // Archives stop at maxRecords (one truncation's transaction stays bounded), and a log that does
  // not verify is not archived: no file.
  clock.advance(40 * DAY_MS);
  expect(await archiveAudit({ ...options('a3.jsonl'), maxRecords: 1 })).toMatchObject({ records: 1, firstSeq: 28, through: { seq: 28 } });
  expect(await codeOfAsync(archiveAudit(options('broken.jsonl')))).toBe(ErrorCodes.AUDIT_CHAIN_BROKEN);
  expect(existsSync(path.join(dir, 'broken.jsonl'))).toBe(false);
}

/** The first line with its members in reverse order: the same record, other bytes. */
function reorderFirstLine(content: string): string {
  const [line, ...rest] = content.split('\n');
  const members = Object.entries(JSON.parse(line!) as Record<string, unknown>).reverse();
  return [JSON.stringify(Object.fromEntries(members)), ...rest].join('\n');
}
