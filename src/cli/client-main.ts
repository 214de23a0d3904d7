import manifest from '../../package.json' with { type: 'json' };
import { clientCommands } from './client-commands.ts';
import { runCommandLine } from './run-command-line.ts';

/**
 * The client's entry point: only the commands that talk to the API, bundled by
 * scripts/build-client into one file and then into a single executable, which has no
 * package.json beside it to read, so the version is bundled in.
 * No top-level await: Node 24's single executables run the bundle as CommonJS.
 */
void runCommandLine(clientCommands, manifest.version);
