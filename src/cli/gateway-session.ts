import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { decideSessionCommand } from '../gateway/session-command.ts';
import { readSessionCertificate } from '../gateway/session-certificates.ts';
import { sessionGrantOf } from '../gateway/session-grant.ts';
import { forwardDestinationFor } from '../gateway/forward-port.ts';
import { sessionKubeconfig } from '../gateway/session-kube-credential.ts';
import { runSession } from '../gateway/session-runner.ts';
import { startRecording } from '../gateway/asciicast.ts';
import { postSessionEvent } from '../gateway/session-kube-credential.ts';
import { revokedByKrlFile } from '../gateway/gateway-trust-files.ts';

interface SessionOptions {
  serial: string;
  certificateDir: string;
  revokedKeys: string;
  extensionDomain: string;
  api: string;
  apiCaFile?: string;
  gatewayTokenFile: string;
  kubeServer: string;
  kubeCaFile?: string;
  kubectl: string;
  revocationPollSeconds: string;
  recordingsDir: string;
  recordingMaxBytes: string;
}

/** The only PATH the session's kubectl sees: no directory the person could have written to. */
const SESSION_PATH = '/usr/local/bin:/usr/bin:/bin';

function refused(rule: string, message: string): JitcaError {
  return new JitcaError(ErrorCodes.GATEWAY_REFUSED, message, { details: { rule } });
}

export function registerGatewaySession(gateway: Command): void {
  gateway
    .command('session')
    .description(
      "the forced command `jitca gateway principals` gives sshd: runs what the person asked (SSH_ORIGINAL_COMMAND) if the certificate " +
        'stored for --serial allows it, as kubectl with a Kubernetes credential for the same approval, and cuts it at the ' +
        "certificate's expiry or when its serial appears in the KRL",
    )
    .requiredOption('--serial <n>', 'the serial sshd read from the certificate (put there by the principals line)')
    .requiredOption('--certificate-dir <dir>', 'where `jitca gateway principals --certificate-dir` stored the certificate, by serial')
    .requiredOption('--revoked-keys <file>', "sshd's RevokedKeys file (kept current by jitca trust-sync), polled while the session runs")
    .requiredOption('--extension-domain <domain>', "the policy's extensionDomain")
    .requiredOption('--api <url>', "jitca's API")
    .option('--api-ca-file <file>', "CA certificate (PEM) of jitca's API")
    .requiredOption('--gateway-token-file <file>', "the gateway's own token for jitca's API")
    .requiredOption('--kube-server <url>', 'the Kubernetes API server')
    .option('--kube-ca-file <file>', 'CA certificate (PEM) of the Kubernetes API server')
    .option('--kubectl <path>', 'the kubectl binary', '/usr/bin/kubectl')
    .option('--revocation-poll-seconds <n>', 'how often the KRL is read again while the session runs', '10')
    .requiredOption('--recordings-dir <dir>', 'where each session\'s output is kept as asciicast v2 (SERIAL-STARTMS.cast)')
    .option('--recording-max-bytes <n>', 'a recording stops (the session does not) at this size', String(10 * 1024 * 1024))
    .action(async (options: SessionOptions) => {
      const pollSeconds = Number(options.revocationPollSeconds);
      if (!Number.isInteger(pollSeconds) || pollSeconds < 1 || pollSeconds > 300) {
        throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--revocation-poll-seconds must be a whole number from 1 to 300');
      }
      const maxBytes = Number(options.recordingMaxBytes);
      if (!Number.isInteger(maxBytes) || maxBytes < 1024) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--recording-max-bytes must be a whole number of at least 1024');
      const certificate = readSessionCertificate(options.certificateDir, options.serial);
      const endsAt = Number(certificate.validBefore) * 1000;
      if (Date.now() >= endsAt) throw refused('expired', 'the certificate has expired');
      if (revokedByKrlFile(options.revokedKeys, certificate)) throw refused('revoked', 'the certificate is revoked');
      const scoped = sessionGrantOf(certificate, options.extensionDomain);
      if (scoped === undefined) throw refused('not-a-jitca-grant', 'the certificate carries no complete jitca scope');
      const grant = { ...scoped, forward: forwardDestinationFor(certificate.serial) };

      const decision = decideSessionCommand(process.env['SSH_ORIGINAL_COMMAND'], grant);
      if (decision.kind === 'menu') {
        process.stdout.write(`Allowed here (cluster ${grant.scope.cluster}, namespace ${grant.scope.namespace}):\n${decision.commands.map((command) => `  ${command}\n`).join('')}Run one as: ssh <gateway> <command>\n`);
        return;
      }
      if (decision.kind === 'refuse') throw refused(decision.rule, decision.reason);

      const api = {
        apiUrl: options.api,
        ...(options.apiCaFile === undefined ? {} : { apiCaPem: readFileSync(options.apiCaFile, 'utf8') }),
        gatewayToken: readFileSync(options.gatewayTokenFile, 'utf8').trim(),
      };
      const kubeconfig = await sessionKubeconfig(
        {
          ...api,
          kubeServer: options.kubeServer,
          ...(options.kubeCaFile === undefined ? {} : { kubeCaPem: readFileSync(options.kubeCaFile, 'utf8') }),
        },
        certificate,
        grant.scope.namespace,
      );
      const command = decision.argv.join(' ');
      const startedAt = Date.now();
      const recorder = startRecording(path.join(options.recordingsDir, `${options.serial}-${startedAt}.cast`), { maxBytes, startedAt, command });
      try {
        // The start is in the audit log before anything runs: a session the CA did not record does not start.
        await postSessionEvent(api, certificate, { event: 'started', command });
        const [, ...args] = decision.argv;
        const end = await runSession({
          argv: [options.kubectl, '--kubeconfig', kubeconfig.file, ...args],
          env: { PATH: SESSION_PATH, HOME: kubeconfig.directory, KUBECONFIG: kubeconfig.file },
          stdio: ['inherit', 'pipe', 'pipe'],
          onStart: (child) => {
            child.stdout?.on('data', (chunk: Buffer) => {
              process.stdout.write(chunk);
              recorder.output(chunk);
            });
            child.stderr?.on('data', (chunk: Buffer) => {
              process.stderr.write(chunk);
              recorder.output(chunk);
            });
          },
          endsAt: Math.min(endsAt, kubeconfig.notAfter.getTime()),
          isRevoked: () => revokedByKrlFile(options.revokedKeys, certificate),
          pollMs: pollSeconds * 1000,
        });
        const recording = recorder.close();
        await postSessionEvent(api, certificate, {
          event: 'ended',
          command,
          end: { reason: end.reason, ...(end.reason === 'exited' && end.code !== null ? { exitCode: end.code } : {}), durationMs: Date.now() - startedAt },
          recording: { sha256: recording.sha256, bytes: recording.bytes, truncated: recording.truncated },
        });
        if (end.reason === 'exited') {
          process.exitCode = end.code ?? 1;
          return;
        }
        process.stderr.write(`jitca: session ended: the certificate ${end.reason === 'expired' ? 'expired' : 'was revoked'}\n`);
        process.exitCode = 1;
      } finally {
        recorder.close();
        kubeconfig.remove();
      }
    });
}
