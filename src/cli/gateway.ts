import type { Command } from 'commander';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { checkSessionCommand, parseAccountPrincipals } from '../gateway/account-principals.ts';
import { readGatewayTrustFiles } from '../gateway/gateway-trust-files.ts';
import { decidePrincipals } from '../gateway/principals-decision.ts';
import { decodeBase64Strict } from '../ssh/base64.ts';
import { parseCertificate } from '../ssh/certificate-parse.ts';
import { collect } from './common.ts';
import { registerGatewaySession } from './gateway-session.ts';
import { readRecording } from '../gateway/asciicast.ts';
import { storeSessionCertificate } from '../gateway/session-certificates.ts';

interface PrincipalsOptions {
  trustedCaKeys: string;
  revokedKeys: string;
  allow: string[];
  extensionDomain: string;
  sessionCommand: string;
  certificateDir?: string;
}

export function registerGateway(program: Command): void {
  const gateway = program.command('gateway').description('the just-in-time SSH gateway: hooks for a stock sshd that enforce what jitca writes into certificates');
  gateway
    .command('principals')
    .description(
      'sshd AuthorizedPrincipalsCommand: prints the principal lines, with restrict, expiry-time and the forced session command, ' +
        'for a live jitca certificate from a trusted CA; prints nothing and exits non-zero otherwise. ' +
        'sshd_config: AuthorizedPrincipalsCommand /usr/local/bin/jitca gateway principals [options] %u %i %s %F %k',
    )
    .argument('<account>', '%u: the account asked for')
    .argument('<key-id>', '%i: the certificate key ID')
    .argument('<serial>', '%s: the certificate serial')
    .argument('<ca-fingerprint>', '%F: fingerprint of the signing CA key')
    .argument('<certificate>', '%k: the certificate, base64')
    .requiredOption('--trusted-ca-keys <file>', "sshd's TrustedUserCAKeys file (kept current by jitca trust-sync)")
    .requiredOption('--revoked-keys <file>', "sshd's RevokedKeys file (kept current by jitca trust-sync)")
    .requiredOption('--allow <account=principals>', 'ACCOUNT=PRINCIPAL[,PRINCIPAL...]: who may log in as ACCOUNT (repeatable)', collect, [])
    .requiredOption('--extension-domain <domain>', "the policy's extensionDomain (role@ and approval@ extensions mark a jitca grant)")
    .option('--session-command <command>', 'the forced command, given --serial N', '/usr/local/bin/jitca gateway session')
    .option('--certificate-dir <dir>', 'keep each admitted certificate here by serial, for `jitca gateway session` (a directory only this command\'s user writes)')
    .action((account: string, keyId: string, serial: string, caFingerprint: string, certificateBase64: string, options: PrincipalsOptions) => {
      // Configuration first: a mistake there refuses every login, whatever the certificate.
      const accountPrincipals = parseAccountPrincipals(options.allow);
      const sessionCommand = checkSessionCommand(options.sessionCommand);
      const files = readGatewayTrustFiles({ trustedCaKeys: options.trustedCaKeys, revokedKeys: options.revokedKeys });
      const blob = decodeBase64Strict(certificateBase64);
      if (blob === undefined) throw new JitcaError(ErrorCodes.GATEWAY_REFUSED, 'the certificate is not base64', { details: { rule: 'malformed' } });
      const certificate = parseCertificate(blob);
      const verdict = decidePrincipals(
        { account, keyId, serial, caFingerprint },
        certificate,
        { ...files, accountPrincipals, extensionDomain: options.extensionDomain, sessionCommand },
        BigInt(Math.floor(Date.now() / 1000)),
      );
      if (!verdict.allow) throw new JitcaError(ErrorCodes.GATEWAY_REFUSED, verdict.reason, { details: { rule: verdict.rule, serial } });
      if (options.certificateDir !== undefined) storeSessionCertificate(options.certificateDir, certificate);
      process.stdout.write(`${verdict.lines.join('\n')}\n`);
    });
  registerGatewaySession(gateway);
  gateway
    .command('replay')
    .description("prints a session recording's output (asciicast v2, as `jitca gateway session` keeps it); its SHA-256, to compare with the audit record, goes to stderr")
    .argument('<file>', 'the recording')
    .action((file: string) => {
      const replayed = readRecording(file);
      process.stdout.write(replayed.output.map((event) => event.text).join(''));
      process.stderr.write(`sha256 ${replayed.sha256}${replayed.truncated ? ' (recording stopped at its size limit)' : ''}\n`);
    });
}
