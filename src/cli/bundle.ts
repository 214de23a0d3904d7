import { Option, type Command } from 'commander';
import { openCaRuntime } from '../ca-runtime.ts';
import { sshTrustBundle } from '../issuance/trust-bundle.ts';
import { configFrom } from './common.ts';

export function registerBundle(program: Command): void {
  program
    .command('bundle')
    .description('print the trust bundle: every SSH user CA generation sshd must trust (TrustedUserCAKeys lines)')
    .addOption(new Option('--format <format>', 'bundle format').choices(['sshd']).default('sshd'))
    .action(async (_options: { format: 'sshd' }, command: Command) => {
      const runtime = await openCaRuntime(configFrom(command));
      try {
        process.stdout.write(sshTrustBundle(runtime));
      } finally {
        await runtime.close();
      }
    });
}
