import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { systemClock } from '../clock.ts';
import { runRetention } from '../issuance/retention-run.ts';
import { configFrom } from './config-from.ts';
import { withConfiguredStore } from './configured-store.ts';

interface RetentionCommandOptions {
  exportDir: string;
  batch: number;
}

export function registerRetention(program: Command): void {
  program
    .command('retention')
    .description(
      'export (JSON Lines, one file per batch, fsynced) and then remove the request, certificate, approval and revocation rows of requests ' +
        'retention.daysAfterExpiry days past expiry, each batch with a retention.pruned audit record; safe to stop at any point and run again. ' +
        'The audit log is not pruned.',
    )
    .requiredOption('--export-dir <dir>', 'where the exported rows go (created 0700 if missing)')
    .option('--batch <n>', 'requests per batch and file (1..1000)', batchSize, 500)
    .action(async (options: RetentionCommandOptions, command: Command) => {
      const config = await configFrom(command);
      const exportDir = path.resolve(options.exportDir);
      await withConfiguredStore(command, async (store) => {
        // Only once the store opened: a mistyped --data-dir creates nothing.
        mkdirSync(exportDir, { recursive: true, mode: 0o700 });
        const result = await runRetention({
          store,
          clock: systemClock,
          daysAfterExpiry: config.retention.daysAfterExpiry,
          exportDir,
          batchSize: options.batch,
          actor: `local:${userInfo().username}`,
        });
        process.stderr.write(`removed ${result.requests} requests past retention, exported to ${result.files.length} files in ${exportDir}\n`);
      });
    });
}

function batchSize(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || n > 1000) throw new InvalidArgumentError('must be an integer from 1 to 1000');
  return n;
}
