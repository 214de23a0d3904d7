import { Option, type Command } from 'commander';
import { writeFileAtomic } from '../atomic-file.ts';
import { openCaRuntime } from '../ca-runtime.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { kubeCaBundle } from '../issuance/kube-client-ca.ts';
import { sshKrlOf } from '../issuance/ssh-krl.ts';
import { sshTrustBundle } from '../issuance/trust-bundle.ts';
import { configFrom } from './config-from.ts';

type BundleFormat = 'sshd' | 'pem' | 'krl';

export function registerBundle(program: Command): void {
  program
    .command('bundle')
    .description(
      'print a trust bundle: sshd TrustedUserCAKeys lines, the PEM of the Kubernetes client CA for kube-apiserver ' +
        '--client-ca-file, or the KRL of revoked SSH certificates for sshd RevokedKeys (binary: needs --out)',
    )
    .addOption(new Option('--format <format>', 'sshd | pem | krl').choices(['sshd', 'pem', 'krl']).default('sshd'))
    .option('--out <file>', 'write to this file (atomically: sshd never reads half a file) instead of stdout')
    .action(async (options: { format: BundleFormat; out?: string }, command: Command) => {
      if (options.format === 'krl' && options.out === undefined) {
        throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'a KRL is binary: write it with --out <file>');
      }
      const runtime = await openCaRuntime(await configFrom(command));
      try {
        const body =
          options.format === 'sshd'
            ? sshTrustBundle(runtime)
            : options.format === 'pem'
              ? kubeCaBundle(runtime.config, runtime.keyring)
              : await sshKrlOf(runtime, Date.now());
        if (options.out === undefined) {
          process.stdout.write(body);
        } else {
          writeFileAtomic(options.out, body, 0o644);
        }
      } finally {
        await runtime.close();
      }
    });
}
