import type { Command } from 'commander';
import { buildConfig } from '../config.ts';
import { openStore } from '../store/store.ts';
import { systemClock } from '../clock.ts';
import type { GlobalOptions } from './common.ts';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('inspect the tamper-evident audit log');
  audit
    .command('verify')
    .description('recompute the hash chain; exit 1 and name the first broken record when any record was changed, deleted or reordered')
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      // Verification needs only the database, not the HSM: auditors run it without the PIN.
      const config = buildConfig({ configFile: globals.config, dataDir: globals.dataDir });
      const store = await openStore({ sqlitePath: config.store.sqlitePath, clock: systemClock });
      try {
        const result = await store.verifyAudit();
        if (result.ok) {
          process.stdout.write(`audit: ${result.records} records, chain intact\n`);
        } else {
          const broken = result.firstBroken;
          process.stdout.write(`audit: chain BROKEN at seq ${broken?.seq} (${broken?.reason}); ${result.records} records read\n`);
          process.exitCode = 1;
        }
      } finally {
        await store.close();
      }
    });
}
