import { readFileSync } from 'node:fs';
import { clientCommands, type CommandLoader } from './client-commands.ts';
import { runCommandLine } from './run-command-line.ts';

/**
 * Each command lives in its own module and is loaded only when it runs: kubectl starts
 * `jitca kube-credential` for every call, and loading the CA, API and controller code it never
 * uses would add most of a second to each kubectl command.
 */
const serverCommands: Record<string, CommandLoader> = {
  init: async () => (await import('./init.ts')).registerInit,
  serve: async () => (await import('./serve.ts')).registerServe,
  'issue-ssh': async () => (await import('./issue-ssh.ts')).registerIssueSsh,
  bundle: async () => (await import('./bundle.ts')).registerBundle,
  audit: async () => (await import('./audit.ts')).registerAudit,
  policy: async () => (await import('./policy.ts')).registerPolicy,
  revoke: async () => (await import('./revoke.ts')).registerRevoke,
  retention: async () => (await import('./retention.ts')).registerRetention,
  controller: async () => (await import('./controller.ts')).registerController,
  gateway: async () => (await import('./gateway.ts')).registerGateway,
  rotate: async () => (await import('./rotate.ts')).registerRotate,
  users: async () => (await import('./users.ts')).registerUsers,
};

/** The version package.json declares, as `jitca --version` prints it. */
function packageVersion(): string {
  const manifest: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const version = (manifest as { version?: unknown }).version;
  return typeof version === 'string' ? version : 'unknown';
}

await runCommandLine({ ...serverCommands, ...clientCommands }, packageVersion());
