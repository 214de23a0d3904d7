import type { Command } from 'commander';
import { parseAuditAnchor } from '../store/audit-chain.ts';
import { collect } from './common.ts';
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
    .action(async (options: { anchor: string[] }, command: Command) => {
      const anchors = options.anchor.map(parseAuditAnchor);
      await withConfiguredStore(command, async (store) => {
        const result = await store.verifyAudit(anchors);
        const anchored = anchors.length === 0 ? '' : `, ${anchors.length} anchor(s) matched`;
        if (result.ok) {
          process.stdout.write(`audit: ${result.records} records, chain intact${anchored}\n`);
        } else {
          const broken = result.firstBroken;
          process.stdout.write(`audit: chain BROKEN at seq ${broken?.seq} (${broken?.reason}); ${result.records} records read\n`);
          process.exitCode = 1;
        }
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
}
