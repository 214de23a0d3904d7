import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { InvalidArgumentError, type Command } from 'commander';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseAuditAnchor } from '../store/audit-chain.ts';
import { verifyAuditWithArchives } from '../store/audit-archive-verify.ts';
import { auditExportLine, verifyAuditExport } from '../store/audit-export.ts';
import type { AuditAnchor, AuditVerifyResult } from '../store/types.ts';
import { collect } from './common.ts';
import { DEFAULT_ARCHIVE_RECORDS, exportAuditArchive, registerAuditTruncate } from './audit-archive.ts';
import { withConfiguredStore } from './configured-store.ts';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('inspect the tamper-evident audit log');
  audit
    .command('verify')
    .description(
      'recompute the hash chain; exit 1 and name the first broken record when any record was changed, deleted or reordered, ' +
        'or when an anchor from outside the database is missing (newest records deleted) or has another hash (log rewritten)',
    )
    .option('--anchor <seq:hash>', 'a head seen earlier (serve logs it as "audit head"; `jitca audit head` prints it); repeatable', collect, [])
    .option('--file <path>', 'verify a copy written by `audit export` instead of the database (no store is opened)')
    .option('--after <seq:hash>', 'with --file: the record the copy continues from, when it does not begin at seq 1')
    .option(
      '--archive <file>',
      'an archive written by `audit export --archive`, verified with the database as one chain from seq 1: give every archive, oldest first; repeatable',
      collect,
      [],
    )
    .action(async (options: { anchor: string[]; file?: string; after?: string; archive: string[] }, command: Command) => {
      const anchors = options.anchor.map(parseAuditAnchor);
      const after = options.after === undefined ? undefined : parseAuditAnchor(options.after);
      if (options.archive.length > 0) {
        if (options.file !== undefined || after !== undefined) {
          throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--archive verifies the archives with the database: it takes neither --file nor --after');
        }
        await withConfiguredStore(command, async (store) => report(await verifyAuditWithArchives(store, options.archive, anchors), anchors));
        return;
      }
      if (options.file !== undefined) {
        report(await verifyAuditExport(linesOf(options.file), anchors, after), anchors);
        return;
      }
      if (after !== undefined) {
        throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--after applies to --file only: the database is verified from seq 1');
      }
      await withConfiguredStore(command, async (store) => report(await store.verifyAudit(anchors), anchors));
    });
  audit
    .command('export')
    .description(
      'write audit records as JSON Lines (canonical JSON, one record per line, seq order, with hashes) to stdout, ' +
        'for a copy outside the CA that `audit verify --file` checks on its own; stderr names the last record for the next --after',
    )
    .option('--after <seq>', 'only records after this seq (resume a previous export)', parseSeq, 0)
    .option('--limit <n>', `at most this many records (with --archive: default ${DEFAULT_ARCHIVE_RECORDS}, what one truncation removes in one transaction)`, parseLimit)
    .option(
      '--archive <file>',
      'instead of stdout: the records after the last checkpoint that are retention.auditMinAgeDays old, to this file (fsynced), ' +
        'recorded with an audit.archived record naming its SHA-256 and last record, for `audit truncate`',
    )
    .action(async (options: { after: number; limit?: number; archive?: string }, command: Command) => {
      if (options.archive !== undefined) {
        if (options.after !== 0) {
          throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--archive starts after the last checkpoint: it takes no --after');
        }
        await exportAuditArchive(command, options.archive, options.limit);
        return;
      }
      await withConfiguredStore(command, async (store) => {
        let afterSeq = options.after;
        let exported = 0;
        let last: AuditAnchor | undefined;
        for (;;) {
          const wanted = options.limit === undefined ? EXPORT_PAGE : Math.min(EXPORT_PAGE, options.limit - exported);
          if (wanted <= 0) break;
          const page = await store.listAudit({ afterSeq, limit: wanted });
          if (page.length === 0) break;
          // Whole lines only, and the next page is read only once these are out: a failure part
          // way leaves a copy that ends at a record boundary, which a resumed export continues.
          if (!process.stdout.write(page.map((record) => `${auditExportLine(record)}\n`).join(''))) await once(process.stdout, 'drain');
          exported += page.length;
          const newest = page[page.length - 1]!;
          last = { seq: newest.seq, hash: newest.hash };
          afterSeq = newest.seq;
        }
        process.stderr.write(
          last === undefined
            ? `audit: no records after seq ${options.after}\n`
            : `audit: exported ${exported} records; last ${last.seq}:${last.hash} (next: --after ${last.seq})\n`,
        );
      });
    });
  audit
    .command('head')
    .description('print the newest record as <seq>:<hash>; keep it outside the database and pass it to `audit verify --anchor` later')
    .action(async (_options: unknown, command: Command) => {
      await withConfiguredStore(command, async (store) => {
        const head = await store.auditHead();
        process.stdout.write(head === undefined ? 'audit: empty\n' : `${head.seq}:${head.hash}\n`);
      });
    });
  registerAuditTruncate(audit);
}

const EXPORT_PAGE = 1000;

function report(result: AuditVerifyResult, anchors: readonly AuditAnchor[]): void {
  const anchored = anchors.length === 0 ? '' : `, ${anchors.length} anchor(s) matched`;
  if (result.ok) {
    process.stdout.write(`audit: ${result.records} records, chain intact${anchored}\n`);
  } else {
    const broken = result.firstBroken;
    process.stdout.write(`audit: chain BROKEN at seq ${broken?.seq} (${broken?.reason}); ${result.records} records read\n`);
    process.exitCode = 1;
  }
}

function parseSeq(text: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError('must be a non-negative integer');
  }
  return Number(text);
}

function parseLimit(text: string): number {
  const limit = parseSeq(text);
  if (limit < 1) throw new InvalidArgumentError('must be at least 1');
  return limit;
}

/** The file's lines; a file that cannot be opened is the caller's input error, not a crash. */
async function* linesOf(file: string): AsyncGenerator<string> {
  const input = createReadStream(file, 'utf8');
  try {
    yield* createInterface({ input, crlfDelay: Infinity });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === undefined) throw error;
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `cannot read audit export ${file}: ${(error as NodeJS.ErrnoException).code}`, { cause: error });
  } finally {
    input.destroy();
  }
}
