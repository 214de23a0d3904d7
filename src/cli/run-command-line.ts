import { Command } from 'commander';
import type { CommandLoader } from './client-commands.ts';
import { exitQuietlyWhenStdoutCloses } from './closed-pipe.ts';
import { reportAndExit } from './common.ts';

/** Global options that take a value, so their value is not mistaken for the command name. */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--config', '--data-dir']);

function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) i++;
    else if (!arg.startsWith('-')) return i;
  }
  return -1;
}

/** `ssh-cert revoke ...` becomes `ssh-cert-revoke ...` (ssh-cert-revoke.ts says why it is not a subcommand). */
function withTwoWordCommands(argv: readonly string[]): string[] {
  const index = commandIndex(argv);
  if (index < 0 || argv[index] !== 'ssh-cert' || argv[index + 1] !== 'revoke') return [...argv];
  return [...argv.slice(0, index), 'ssh-cert-revoke', ...argv.slice(index + 2)];
}

/**
 * Parses process.argv against the given commands, loading only the one named (every one for
 * `--help`), and reports any failure as "jitca: CODE: message". Shared by the full command line
 * (main.ts) and the client-only single executable (client-main.ts).
 */
export async function runCommandLine(commands: Record<string, CommandLoader>, version: string): Promise<void> {
  const program = new Command('jitca')
    .version(version, '-V, --version', 'print the jitca version')
    .description('just-in-time certificate authority: short-lived SSH user and Kubernetes client certificates from an HSM')
    .option('--config <file>', 'configuration file (JSON)')
    .option('--data-dir <dir>', 'data directory for the embedded token, store and policy (default ./data)')
    .showHelpAfterError();

  exitQuietlyWhenStdoutCloses(reportAndExit);

  try {
    const argv = [...process.argv.slice(0, 2), ...withTwoWordCommands(process.argv.slice(2))];
    const index = commandIndex(argv.slice(2));
    const name = index < 0 ? undefined : argv[index + 2];
    const wanted = name !== undefined && Object.hasOwn(commands, name) ? [commands[name]!] : Object.values(commands);
    for (const load of wanted) (await load())(program);
    await program.parseAsync(argv);
  } catch (error) {
    reportAndExit(error);
  }
}
