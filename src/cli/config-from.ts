import type { Command } from 'commander';
import type { JitcaConfig } from '../config.ts';

export interface GlobalOptions {
  config?: string;
  dataDir?: string;
}

/**
 * Builds the one configuration object from the global flags (jitca --config F --data-dir D cmd).
 * The schema and its validator load only here, when a command runs: not for --help, and never for
 * the engineer's commands (kube-credential runs for every kubectl call), which do not import this.
 */
export async function configFrom(command: Command): Promise<JitcaConfig> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const { buildConfig } = await import('../config.ts');
  return buildConfig({ configFile: options.config, dataDir: options.dataDir });
}
