import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { loadClientConfig } from '../client/client-config.ts';
import { jitcaCertificatesInAgent, sessionStatus, sessionStatusText } from '../client/session-status.ts';
import { removeFromSshAgent } from '../client/ssh-agent.ts';
import { forgetToken } from '../client/token-source.ts';

interface SessionOptions {
  clientConfig?: string;
  key?: string;
}

/** The key `ssh-cert` certifies by default; its certificates are named after it. */
export function defaultJitcaKey(): string {
  return path.join(os.homedir(), '.ssh', 'jitca_ed25519');
}

function withSessionOptions(command: Command): Command {
  return command
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .option('--key <file>', 'the key ssh-cert certifies (default ~/.ssh/jitca_ed25519)');
}

function registerSessionStatus(program: Command, name: string): void {
  withSessionOptions(program.command(name).description('engineers: who the stored token names, its groups and expiry, and jitca\'s certificates on disk and in ssh-agent')).action(
    (options: SessionOptions) => {
      const config = loadClientConfig(options.clientConfig);
      process.stdout.write(sessionStatusText(sessionStatus(config, options.key ?? defaultJitcaKey())));
    },
  );
}

export const registerWhoami = (program: Command): void => registerSessionStatus(program, 'whoami');
/** The same report under the name `vault status` and `step` users reach for first. */
export const registerStatus = (program: Command): void => registerSessionStatus(program, 'status');

export function registerLogout(program: Command): void {
  withSessionOptions(program.command('logout').description('engineers: forget the stored token and remove jitca\'s certificates from ssh-agent')).action(
    (options: SessionOptions) => {
      const config = loadClientConfig(options.clientConfig);
      const key = options.key ?? defaultJitcaKey();
      const forgot = forgetToken(config);
      const inAgent = jitcaCertificatesInAgent(key, sessionStatus(config, key).onDisk);
      const removed = inAgent.filter((summary) => removeFromSshAgent(summary.line)).length;
      process.stderr.write(`jitca: ${forgot ? `forgot the token in ${config.tokenCache}` : 'no stored token'}; removed ${removed} certificate(s) from ssh-agent\n`);
    },
  );
}
