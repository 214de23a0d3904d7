import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { syncTrustFiles, type TrustSyncTarget } from '../client/trust-sync.ts';

interface TrustSyncOptions {
  server: string;
  caFile?: string;
  krlFile?: string;
  serverCa?: string;
  host: string;
}

export function registerTrustSync(program: Command): void {
  program
    .command('trust-sync')
    .description(
      "on an SSH host: fetch the CA's signed trust bundle and revocation list and replace sshd's files atomically when they changed " +
        '(run it from a systemd timer or cron, e.g. every minute); the bundle must be signed by a CA key the current --ca-file lists ' +
        '(trust on first use when it lists none), and each fetch reports this host and the CA keys it has installed',
    )
    .requiredOption('--server <url>', 'the jitca API, e.g. https://jitca.example:8443')
    .option('--ca-file <file>', "sshd's TrustedUserCAKeys file")
    .option('--krl-file <file>', "sshd's RevokedKeys file")
    .option('--server-ca <pem>', "CA certificate file to trust for the server's TLS certificate")
    .option('--host <name>', 'the name this host reports to the CA (rotation readiness counts hosts by it)', hostname())
    .action(async (options: TrustSyncOptions) => {
      const targets: TrustSyncTarget[] = [
        ...(options.caFile === undefined ? [] : [{ kind: 'ssh-user-ca' as const, file: options.caFile }]),
        ...(options.krlFile === undefined ? [] : [{ kind: 'ssh-krl' as const, file: options.krlFile }]),
      ];
      if (targets.length === 0) throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'name at least one of --ca-file and --krl-file');
      const outcomes = await syncTrustFiles({
        server: options.server,
        targets,
        host: options.host,
        ...(options.serverCa === undefined ? {} : { ca: readFileSync(options.serverCa) }),
      });
      for (const { file, outcome } of outcomes) process.stderr.write(`${file}: ${outcome}\n`);
    });
}
