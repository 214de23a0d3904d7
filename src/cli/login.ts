import type { Command } from 'commander';
import { loadClientConfig } from '../client/client-config.ts';
import { deviceLogin } from '../client/device-login.ts';
import { cacheToken } from '../client/token-source.ts';

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('engineers: sign in with your OpenID provider (device code flow) and cache the token 0600')
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .action(async (options: { clientConfig?: string }) => {
      const config = loadClientConfig(options.clientConfig);
      const result = await deviceLogin(config, (uri, code) => {
        process.stderr.write(`Open ${uri} and confirm the code ${code}\n`);
      });
      cacheToken(config, result.accessToken, result.expiresIn);
      process.stderr.write(`jitca: logged in; token cached in ${config.tokenCache} for ${result.expiresIn}s\n`);
    });
}
