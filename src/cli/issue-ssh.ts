import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openCaRuntime } from '../ca-runtime.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { issueSshCertificate } from '../issuance/issue-ssh-certificate.ts';
import type { Identity } from '../policy/types.ts';
import { collect } from './common.ts';
import { configFrom } from './config-from.ts';
import { addSshRequestOptions, sshRequestFromOptions, type SshRequestOptions } from './ssh-request-options.ts';

interface IssueSshOptions extends SshRequestOptions {
  identity: string;
  group: string[];
  pubkey: string;
  reason?: string;
  out?: string;
}

/** A public key file is a line or two; anything bigger is not one (the parser re-checks). */
const MAX_PUBKEY_FILE_BYTES = 64 * 1024;

export function registerIssueSsh(program: Command): void {
  const issueSsh = program
    .command('issue-ssh')
    .description('issue an SSH user certificate locally (security team): same policy, audit and HSM path as the API')
    .requiredOption('--identity <name>', 'person the certificate is for (key ID, audit subject)')
    .option('--group <group>', 'identity group vouched for by the operator (repeatable)', collect, [])
    .requiredOption('--pubkey <file>', 'public key to certify (authorized_keys format, - for stdin)');
  addSshRequestOptions(issueSsh)
    .option('--reason <text>', 'why access is needed (audited)')
    .option('--out <file>', 'write the certificate here (default: stdout)')
    .action(async (options: IssueSshOptions, command: Command) => {
      const publicKey = readPublicKey(options.pubkey);
      const identity: Identity = { subject: options.identity, groups: options.group, via: 'local-cli' };
      const request = sshRequestFromOptions(options);
      const runtime = await openCaRuntime(await configFrom(command));
      try {
        const result = await issueSshCertificate(runtime.sshIssuance, identity, {
          publicKey,
          ...request,
          ...(options.reason === undefined ? {} : { reason: options.reason }),
        });
        if (result.status === 'pending') {
          process.stderr.write(
            `jitca: request ${result.requestId} is pending: role needs ${result.approval.approvals} approval(s) from ${result.approval.approverGroups.join(', ')} through the API; expires ${result.expiresAt.toISOString()}\n`,
          );
          process.exitCode = 4;
          return;
        }
        if (options.out === undefined) process.stdout.write(`${result.certificate}\n`);
        else writeFileSync(options.out, `${result.certificate}\n`, { mode: 0o644 });
        for (const note of result.notes) process.stderr.write(`jitca: note: ${note}\n`);
        process.stderr.write(
          `jitca: issued serial ${result.serial} to ${identity.subject} as ${result.grant.principals.join(',')} until ${result.validBefore.toISOString()} (request ${result.requestId})\n`,
        );
      } finally {
        await runtime.close();
      }
    });
}

function readPublicKey(file: string): string {
  const bytes = readFileSync(file === '-' ? 0 : file);
  if (bytes.length > MAX_PUBKEY_FILE_BYTES) {
    throw new JitcaError(ErrorCodes.INPUT_TOO_LARGE, `public key file ${file} is ${bytes.length} bytes; at most ${MAX_PUBKEY_FILE_BYTES}`);
  }
  return bytes.toString('utf8').trim();
}
