import { userInfo } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { archiveAudit, truncateAudit } from '../issuance/audit-archive-run.ts';
import { configFrom } from './config-from.ts';
import { withConfiguredStore } from './configured-store.ts';

/** `jitca audit export --archive <file>` (registered with the other export options in audit.ts). */
/** Records per archive unless --limit says otherwise: one truncation deletes them in one transaction. */
export const DEFAULT_ARCHIVE_RECORDS = 100_000;

export async function exportAuditArchive(command: Command, file: string, maxRecords = DEFAULT_ARCHIVE_RECORDS): Promise<void> {
  const config = await configFrom(command);
  await withConfiguredStore(command, async (store) => {
    const archived = await archiveAudit({
      store,
      clock: systemClock,
      minAgeDays: config.retention.auditMinAgeDays,
      maxRecords,
      file: path.resolve(file),
      actor: `local:${userInfo().username}`,
    });
    process.stderr.write(
      archived === undefined
        ? `audit: no records older than ${config.retention.auditMinAgeDays} days after the last checkpoint; no archive written\n`
        : `audit: archived ${archived.records} records (seq ${archived.firstSeq}..${archived.through.seq}) to ${file}, sha256 ${archived.sha256}; ` +
            `keep it, then: jitca audit truncate --archive ${file}` +
            (archived.records === maxRecords ? '; there may be more to archive after it\n' : '\n'),
    );
  });
}

export function registerAuditTruncate(audit: Command): void {
  audit
    .command('truncate')
    .description(
      'remove from the database the records an archive from `audit export --archive` holds, behind a checkpoint: only if the archive is the one ' +
        'recorded, continues from the last checkpoint, its newest record is retention.auditMinAgeDays old, and the log verifies; ' +
        'one transaction with its audit.truncated record. Safe to stop and run again.',
    )
    .requiredOption('--archive <file>', 'the archive file, as `audit export --archive` wrote it')
    .action(async (options: { archive: string }, command: Command) => {
      const config = await configFrom(command);
      await withConfiguredStore(command, async (store) => {
        const result = await truncateAudit({
          store,
          clock: systemClock,
          minAgeDays: config.retention.auditMinAgeDays,
          file: path.resolve(options.archive),
          actor: `local:${userInfo().username}`,
        });
        const checkpoint = `${result.checkpoint.seq}:${result.checkpoint.hash}`;
        process.stdout.write(
          result.record === undefined
            ? `audit: already truncated through checkpoint ${checkpoint}; nothing removed\n`
            : `audit: removed ${result.records} records; checkpoint ${checkpoint}; truncation record ${result.record.seq}:${result.record.hash} ` +
                `(keep this line outside the database: audit verify --anchor ${result.record.seq}:${result.record.hash})\n`,
        );
      });
    });
}
