import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadClientConfig } from '../client/client-config.ts';
import { currentCertificateSerial, revokeOwnCertificate } from '../client/revoke-own-certificate.ts';
import { certificatesOnDisk, jitcaCertificatesInAgent } from '../client/session-status.ts';
import { removeFromSshAgent } from '../client/ssh-agent.ts';
import { currentToken } from '../client/token-source.ts';
import { defaultJitcaKey } from './session.ts';

export const SSH_CERT_REVOKE = 'ssh-cert-revoke';

interface RevokeOptions {
  clientConfig?: string;
  key?: string;
  serial?: string;
  reason: string;
}

/**
 * `jitca ssh-cert revoke` (main.ts routes it here): a command of its own, not a commander
 * subcommand of ssh-cert, because commander lets a parent take its own options (--reason, --key)
 * from after the subcommand's name unless every level parses positionally, which would change
 * where `--config` and `--data-dir` may stand for every other command.
 */
export function registerSshCertRevoke(program: Command): void {
  program
    .command(SSH_CERT_REVOKE)
    .description('engineers: `jitca ssh-cert revoke`: revoke your certificate (default: the current one jitca wrote) and remove it from ssh-agent')
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .option('--key <file>', 'the key ssh-cert certified (default ~/.ssh/jitca_ed25519)')
    .option('--serial <serial>', 'the certificate serial (default: the current certificate on disk)')
    .requiredOption('--reason <text>', 'why (audited), e.g. "laptop lost"')
    .action(async (options: RevokeOptions) => {
      const config = loadClientConfig(options.clientConfig);
      const key = options.key ?? defaultJitcaKey();
      const onDisk = certificatesOnDisk(key);
      const serial = options.serial ?? currentCertificateSerial(onDisk);
      const token = await currentToken(config);
      await revokeOwnCertificate({ server: config.server, token, ca: config.caFile === undefined ? undefined : readFileSync(config.caFile) }, serial, options.reason);
      // Revoked first, then out of the agent: ssh would only offer a certificate every host now refuses.
      const removed = jitcaCertificatesInAgent(key, onDisk)
        .filter((summary) => String(summary.serial) === serial)
        .filter((summary) => removeFromSshAgent(summary.line)).length;
      process.stderr.write(`jitca: revoked serial ${serial}; removed ${removed} certificate(s) from ssh-agent\n`);
    });
}
