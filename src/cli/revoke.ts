import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { revokeSshCertificate } from '../issuance/revoke-ssh-certificate.ts';
import { withConfiguredStore } from './configured-store.ts';

interface RevokeOptions {
  serial: string;
  reason: string;
  actor?: string;
}

export function registerRevoke(program: Command): void {
  program
    .command('revoke')
    .description('revoke an SSH user certificate before it expires (audited); publish the result with `jitca bundle --format krl`')
    .requiredOption('--serial <serial>', 'the certificate serial (ssh-keygen -L shows it)')
    .requiredOption('--reason <text>', 'why, for the audit log (e.g. "laptop lost, INC-1234")')
    .option('--actor <name>', 'who revokes, for the audit log (default: local:<your OS user>)')
    .action(async (options: RevokeOptions, command: Command) => {
      // Only the database, never the HSM: revoking needs no signature.
      await withConfiguredStore(command, async (store) => {
        const actor = options.actor ?? `local:${userInfo().username}`;
        const certificate = await revokeSshCertificate(store, { subject: actor, groups: [], via: 'local-cli' }, options.serial, options.reason);
        process.stderr.write(`revoked serial ${certificate.serial} (${certificate.keyId}, valid until ${certificate.validBefore})\n`);
      });
    });
}
