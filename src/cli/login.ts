import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { loadClientConfig } from '../client/client-config.ts';
import { deviceLogin } from '../client/device-login.ts';
import { localLogin } from '../client/local-login.ts';
import { terminalSafe } from '../client/terminal-text.ts';
import { cacheToken } from '../client/token-source.ts';
import { defaultJitcaKey } from './session.ts';

interface LoginOptions {
  clientConfig?: string;
  local?: boolean;
  user?: string;
  key?: string;
  agent?: boolean;
}

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('engineers: sign in (OpenID device code flow, or --local with your registered SSH key) and cache the token 0600')
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .option('--local', 'log in as a local identity (`jitca users add`): sign the CA\'s challenge with your SSH key')
    .option('--user <name>', 'with --local: your local user name (default: your OS user)')
    .option('--key <file>', 'with --local: your login key (default ~/.ssh/jitca_ed25519); signed through ssh-agent when it holds the key')
    .option('--agent', 'with --local: sign only through ssh-agent')
    .option('--no-agent', 'with --local: sign with the key file (ssh-keygen -Y sign), not ssh-agent')
    .action(async (options: LoginOptions) => {
      const config = loadClientConfig(options.clientConfig);
      if (options.local === true) {
        const result = await localLogin(config, {
          name: options.user ?? userInfo().username,
          keyFile: options.key ?? defaultJitcaKey(),
          signWith: options.agent === true ? 'agent' : options.agent === false ? 'file' : 'auto',
          agentSocket: process.env['SSH_AUTH_SOCK'],
        });
        cacheToken(config, result.accessToken, result.expiresIn);
        process.stderr.write(
          `jitca: logged in as ${terminalSafe(result.subject, 64)} (groups ${terminalSafe(result.groups.join(', '), 300)}; signed with the ${result.signedWith === 'agent' ? 'agent' : 'key file'}); token cached in ${config.tokenCache} for ${result.expiresIn}s\n`,
        );
        return;
      }
      const result = await deviceLogin(config, (uri, code) => {
        process.stderr.write(`Open ${uri} and confirm the code ${code}\n`);
      });
      cacheToken(config, result.accessToken, result.expiresIn, Date.now(), result.refreshToken);
      const renewal = result.refreshToken === undefined ? '' : ', renewed with its refresh token until the provider refuses it';
      process.stderr.write(`jitca: logged in; token cached in ${config.tokenCache} for ${result.expiresIn}s${renewal}\n`);
    });
}
