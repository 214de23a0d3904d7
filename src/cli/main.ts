import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { exitQuietlyWhenStdoutCloses } from './closed-pipe.ts';
import { reportAndExit } from './common.ts';

/**
 * Each command lives in its own module and is loaded only when it runs: kubectl starts
 * `jitca kube-credential` for every call, and loading the CA, API and controller code it never
 * uses would add most of a second to each kubectl command.
 */
const commands: Record<string, () => Promise<(program: Command) => void>> = {
  init: async () => (await import('./init.ts')).registerInit,
  serve: async () => (await import('./serve.ts')).registerServe,
  'issue-ssh': async () => (await import('./issue-ssh.ts')).registerIssueSsh,
  bundle: async () => (await import('./bundle.ts')).registerBundle,
  audit: async () => (await import('./audit.ts')).registerAudit,
  policy: async () => (await import('./policy.ts')).registerPolicy,
  revoke: async () => (await import('./revoke.ts')).registerRevoke,
  retention: async () => (await import('./retention.ts')).registerRetention,
  'trust-sync': async () => (await import('./trust-sync.ts')).registerTrustSync,
  controller: async () => (await import('./controller.ts')).registerController,
  login: async () => (await import('./login.ts')).registerLogin,
  'ssh-cert': async () => (await import('./ssh-cert.ts')).registerSshCert,
  'ssh-cert-revoke': async () => (await import('./ssh-cert-revoke.ts')).registerSshCertRevoke,
  'kube-credential': async () => (await import('./kube-credential.ts')).registerKubeCredential,
  kubeconfig: async () => (await import('./kubeconfig.ts')).registerKubeconfig,
  requests: async () => (await import('./requests.ts')).registerRequests,
  approve: async () => (await import('./requests.ts')).registerApprove,
  deny: async () => (await import('./requests.ts')).registerDeny,
  gateway: async () => (await import('./gateway.ts')).registerGateway,
  attestation: async () => (await import('./attestation.ts')).registerAttestation,
  enroll: async () => (await import('./enroll.ts')).registerEnroll,
  keys: async () => (await import('./enroll.ts')).registerKeys,
  rotate: async () => (await import('./rotate.ts')).registerRotate,
  whoami: async () => (await import('./session.ts')).registerWhoami,
  status: async () => (await import('./session.ts')).registerStatus,
  logout: async () => (await import('./session.ts')).registerLogout,
};

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

/** The version package.json declares, as `jitca --version` prints it. */
function packageVersion(): string {
  const manifest: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const version = (manifest as { version?: unknown }).version;
  return typeof version === 'string' ? version : 'unknown';
}

const program = new Command('jitca')
  .version(packageVersion(), '-V, --version', 'print the jitca version')
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
