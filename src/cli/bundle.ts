import { Option, type Command } from 'commander';
import { openCaRuntime } from '../ca-runtime.ts';
import { sshTrustBundle } from '../issuance/trust-bundle.ts';
import { kubeCaBundle } from '../issuance/kube-client-ca.ts';
import { configFrom } from './common.ts';

export function registerBundle(program: Command): void {
  program
    .command('bundle')
    .description('print a trust bundle: sshd TrustedUserCAKeys lines, or the PEM of the Kubernetes client CA for kube-apiserver --client-ca-file')
    .addOption(new Option('--format <format>', 'sshd | pem').choices(['sshd', 'pem']).default('sshd'))
    .action(async (options: { format: 'sshd' | 'pem' }, command: Command) => {
      const runtime = await openCaRuntime(configFrom(command));
      try {
        process.stdout.write(options.format === 'sshd' ? sshTrustBundle(runtime) : kubeCaBundle(runtime.config, runtime.token));
      } finally {
        await runtime.close();
      }
    });
}
