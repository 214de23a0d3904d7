import type { Command } from 'commander';
import { initializeCa } from '../ca-runtime.ts';
import { configFrom } from './config-from.ts';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create the embedded SoftHSM2 token, the SSH user CA key (non-extractable), the store and a starting policy; changes nothing when they exist')
    .action(async (_options: unknown, command: Command) => {
      const config = await configFrom(command);
      const { created } = await initializeCa(config);
      if (created.length === 0) {
        process.stdout.write(`jitca: already initialized in ${config.dataDir}; nothing changed\n`);
      } else {
        for (const item of created) process.stdout.write(`created ${item}\n`);
      }
    });
}
