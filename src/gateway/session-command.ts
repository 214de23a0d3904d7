/**
 * What `jitca gateway session` may run for a certificate, decided purely from the certificate's
 * grant and the command the user asked for (SSH_ORIGINAL_COMMAND). No shell ever sees the user's
 * text: it is split on spaces into words from a small character set, matched word by word against
 * the role's allowed commands, and turned into one kubectl argv with the certificate's namespace
 * (and pod or node) pinned.
 */

export interface SessionGrant {
  /** commands@<domain>: each entry is an allowed command prefix, in words. Absent: kubectl only. */
  commands?: readonly string[];
  /** operations@<domain>: when present, a command runs only if one of these operations covers it. */
  operations?: readonly string[];
  scope: { cluster: string; namespace: string; pod?: string; node?: string };
  /**
   * The gateway-local address this certificate's port-forward listens on (forward-port.ts, from
   * the serial sshd read); the principals line lets sshd forward to it alone.
   */
  forward?: { host: string; port: number };
}

export type SessionDecision =
  | { kind: 'run'; argv: string[]; allowedBy: string }
  | { kind: 'menu'; commands: string[] }
  | { kind: 'refuse'; rule: SessionRule; reason: string };

export type SessionRule = 'characters' | 'too-long' | 'not-allowed' | 'target-flag' | 'local-effect' | 'operation' | 'outside-scope' | 'needs-pod';

const MAX_COMMAND_LENGTH = 4096;
const MAX_WORDS = 64;
/** Words are built from these only: no quotes, globs, `$`, `;`, `|`, `&`, redirections or escapes. */
const WORD = /^[A-Za-z0-9_./:=@,+%-]+$/;

/**
 * kubectl flags that choose where or as whom a command acts. The gateway sets the namespace
 * itself and the credential is the certificate's own; any of these from the user is refused, in
 * every spelling kubectl accepts (`--flag value`, `--flag=value`, short forms).
 */
const TARGET_FLAGS = new Set([
  '-n', '--namespace', '-A', '--all-namespaces', '--context', '--cluster', '--kubeconfig', '-s', '--server',
  '--token', '--as', '--as-group', '--as-uid', '--user', '--username', '--password', '--client-certificate',
  '--client-key', '--certificate-authority', '--insecure-skip-tls-verify', '--tls-server-name', '--raw',
  '-l', '--selector', '--field-selector', '--all-pods', '--prefix', '-f', '--filename', '-k', '--kustomize',
]);

/**
 * kubectl (pflag) reads `-nprod` as `-n prod` and `-iA` as `-i -A`: in a single-dash word every
 * letter may be a short flag. Refusing when any letter is a target flag also refuses some harmless
 * spellings (`-cnginx`); the long form always works.
 */
function shortTargetFlag(flag: string): string | undefined {
  if (flag.startsWith('--') || flag.length < 2) return undefined;
  const letter = [...flag.slice(1)].find((character) => TARGET_FLAGS.has(`-${character}`));
  return letter === undefined ? undefined : `-${letter}`;
}

/**
 * The kubectl subcommands a session may run: those that only talk to the API server. The others
 * act on the gateway host as the session's account: `edit` starts an editor (a shell escape), `cp`
 * reads and writes local files (another session's kubeconfig), `proxy` listens on the gateway
 * (`port-forward` is built by the gateway alone, portForwardCommand), `config`, `plugin`, `kustomize`, `apply`, `create`, `replace`, `diff` and `patch`
 * read local files or run programs, and any other word would be a plugin found on PATH.
 */
const API_ONLY_SUBCOMMANDS = new Set([
  'get', 'describe', 'logs', 'exec', 'attach', 'top', 'events', 'explain', 'api-resources', 'api-versions', 'version', 'auth',
  'debug', 'delete', 'rollout', 'scale', 'label', 'annotate', 'cordon', 'uncordon', 'drain', 'taint', 'wait', 'cluster-info',
]);

/**
 * The operation (issue 15's matrix) each subcommand needs, for certificates that name operations:
 * reading is view-logs or view-config, exec and attach are exec, debug is debug. Subcommands that
 * change the cluster belong to no operation, so such a certificate never runs them. RBAC refuses
 * the same through the credential's groups; the gateway says so before kubectl runs.
 */
const READ_OPERATIONS = ['view-logs', 'view-config'];
const OPERATIONS_FOR_SUBCOMMAND: Readonly<Record<string, readonly string[]>> = {
  logs: ['view-logs'],
  get: READ_OPERATIONS, describe: READ_OPERATIONS, events: READ_OPERATIONS, top: READ_OPERATIONS, explain: READ_OPERATIONS,
  'api-resources': READ_OPERATIONS, 'api-versions': READ_OPERATIONS, version: READ_OPERATIONS, auth: READ_OPERATIONS,
  wait: READ_OPERATIONS, 'cluster-info': READ_OPERATIONS,
  exec: ['exec'], attach: ['exec'],
  debug: ['debug'],
};

/** Flags that name a file on the gateway host, to read or write: refused wherever they appear. */
const LOCAL_FILE_FLAGS = new Set(['--from-file', '--from-env-file', '--patch-file', '--cache-dir', '--log-file', '--log-dir', '--profile-output', '--template']);
/** Output formats that read a template from a local file (`-o go-template-file=/etc/shadow`). */
const LOCAL_FILE_OUTPUT = /(^|=)(go-template-file|jsonpath-file|template-file)(=|$)/;

/** kubectl flags whose value is the next word: their value is not a resource name. */
const FLAGS_WITH_VALUE = new Set(['-v', '--v', '--vmodule', '-c', '--container', '--tail', '--since', '--since-time', '--image', '--target', '-o', '--output', '--limit-bytes', '--address', '--profile', '--pod-running-timeout', '--request-timeout']);

/**
 * Decides what runs. An allowed entry that starts with `kubectl` runs kubectl; any other entry
 * runs inside the certificate's pod (`kubectl exec POD -- ...`), so a role can allow `curl
 * localhost:8080/debug/pprof` without a shell. With no command, the user gets the menu.
 */
export function decideSessionCommand(originalCommand: string | undefined, grant: SessionGrant): SessionDecision {
  const allowed = (grant.commands ?? ['kubectl']).map((entry) => entry.split(' ').filter((word) => word !== ''));
  if (originalCommand === undefined || originalCommand.trim() === '') return { kind: 'menu', commands: allowed.map((words) => words.join(' ')) };
  if (originalCommand.length > MAX_COMMAND_LENGTH) return refuse('too-long', `the command is longer than ${MAX_COMMAND_LENGTH} characters`);
  const words = originalCommand.split(' ').filter((word) => word !== '');
  if (words.length > MAX_WORDS) return refuse('too-long', `the command has more than ${MAX_WORDS} words`);
  const bad = words.find((word) => !WORD.test(word));
  if (bad !== undefined) return refuse('characters', `${JSON.stringify(bad.slice(0, 40))} has a character the gateway does not pass on (no shell runs your command)`);

  // The longest allowed prefix wins, so "kubectl logs" is matched before "kubectl".
  const match = allowed
    .filter((prefix) => prefix.length > 0 && prefix.length <= words.length && prefix.every((word, i) => words[i] === word))
    .sort((a, b) => b.length - a.length)[0];
  if (match === undefined) return refuse('not-allowed', `not an allowed command; allowed: ${allowed.map((prefix) => prefix.join(' ')).join('; ')}`);
  const allowedBy = match.join(' ');
  return match[0] === 'kubectl' ? kubectlCommand(words.slice(1), grant, allowedBy) : inPodCommand(words, grant, allowedBy);
}

function kubectlCommand(args: string[], grant: SessionGrant, allowedBy: string): SessionDecision {
  const separator = args.indexOf('--');
  // After `--` the words are the command run inside the container: kubectl does not read them.
  const kubectlArgs = separator === -1 ? args : args.slice(0, separator);
  for (let i = 0; i < kubectlArgs.length; i++) {
    const word = kubectlArgs[i]!;
    const flag = word.startsWith('-') ? word.split('=')[0]! : undefined;
    const target = flag === undefined ? undefined : TARGET_FLAGS.has(flag) ? flag : shortTargetFlag(flag);
    if (target !== undefined) return refuse('target-flag', `${target} is set by the gateway from your certificate, not by you`);
    if (flag !== undefined && LOCAL_FILE_FLAGS.has(flag)) return refuse('local-effect', `${flag} names a file on the gateway, which a session does not touch`);
    const output = flag === '-o' || flag === '--output' ? (word.includes('=') ? word.slice(word.indexOf('=') + 1) : kubectlArgs[i + 1]) : flag?.startsWith('-o') === true && !flag.startsWith('--') ? word.slice(2) : undefined;
    if (output !== undefined && LOCAL_FILE_OUTPUT.test(output)) return refuse('local-effect', 'an output template from a file on the gateway is not passed on');
    if (flag !== undefined && FLAGS_WITH_VALUE.has(flag) && !word.includes('=')) i++;
  }
  const subcommand = positionalWords(kubectlArgs)[0];
  if (subcommand === 'port-forward') return portForwardCommand(kubectlArgs, grant, allowedBy);
  if (subcommand === undefined || !API_ONLY_SUBCOMMANDS.has(subcommand)) {
    return refuse('local-effect', `kubectl ${subcommand ?? '(nothing)'} is not run here; a session runs only subcommands that talk to the API server`);
  }
  const operationProblem = operationRefusal(subcommand, grant);
  if (operationProblem !== undefined) return operationProblem;
  const scopeProblem = positionalProblem(kubectlArgs, grant);
  if (scopeProblem !== undefined) return refuse('outside-scope', scopeProblem);
  return { kind: 'run', argv: ['kubectl', '--namespace', grant.scope.namespace, ...args], allowedBy };
}

/**
 * With a pod (or node) in the certificate, every resource a kubectl command names must be that
 * pod (or node). The first positional word is the subcommand (`logs`, `get`, ...); resource kinds
 * such as `pods` may stand alone before the name.
 */
function positionalProblem(args: readonly string[], grant: SessionGrant): string | undefined {
  const { pod, node } = grant.scope;
  if (pod === undefined && node === undefined) return undefined;
  const [, ...names] = positionalWords(args);
  const allowedNames = new Set([
    ...(pod === undefined ? [] : [pod, `pod/${pod}`, `pods/${pod}`, 'pod', 'pods', 'po']),
    ...(node === undefined ? [] : [`node/${node}`, `nodes/${node}`, node, 'node', 'nodes', 'no']),
  ]);
  const outside = names.find((name) => !allowedNames.has(name));
  if (outside !== undefined) return `${JSON.stringify(outside)} is outside your certificate's scope (${pod === undefined ? `node ${node}` : `pod ${pod}`})`;
  return undefined;
}

/** The words that are not flags or a flag's value: the subcommand first, then resource names. */
function positionalWords(args: readonly string[]): string[] {
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word.startsWith('-')) {
      if (FLAGS_WITH_VALUE.has(word.split('=')[0]!) && !word.includes('=')) i++;
      continue;
    }
    positional.push(word);
  }
  return positional;
}

function operationRefusal(subcommand: string, grant: SessionGrant): SessionDecision | undefined {
  if (grant.operations === undefined) return undefined;
  const needed = OPERATIONS_FOR_SUBCOMMAND[subcommand] ?? [];
  if (needed.some((operation) => grant.operations!.includes(operation))) return undefined;
  return refuse(
    'operation',
    needed.length === 0
      ? `kubectl ${subcommand} is part of no operation; your certificate grants ${grant.operations.join(', ')}`
      : `kubectl ${subcommand} needs operation ${needed.join(' or ')}; your certificate grants ${grant.operations.join(', ')}`,
  );
}

/**
 * `kubectl port-forward [pod/POD|POD] REMOTE_PORT`, only for a certificate whose operations include
 * port-forward and whose scope names a pod. The gateway writes every other word: the pod from the
 * certificate, and the loopback address and port sshd lets this certificate forward to (the
 * principals line's permitopen). The engineer then forwards with `ssh -L LOCAL:ADDRESS:PORT`. No flag of the user's is passed on (no --address, no other ports).
 */
function portForwardCommand(args: readonly string[], grant: SessionGrant, allowedBy: string): SessionDecision {
  const { pod, namespace } = grant.scope;
  if (grant.operations?.includes('port-forward') !== true) {
    return refuse('operation', `kubectl port-forward needs operation port-forward; your certificate grants ${grant.operations?.join(', ') ?? 'none'}`);
  }
  if (pod === undefined || pod === '*' || grant.forward === undefined) return refuse('needs-pod', 'kubectl port-forward goes to one pod, and your certificate names none');
  if (args.some((word) => word.startsWith('-'))) return refuse('local-effect', 'kubectl port-forward takes no flags here: the gateway sets the address and the local port');
  const [, ...rest] = args;
  const target = rest.length === 2 ? rest[0] : undefined;
  if (target !== undefined && target !== pod && target !== `pod/${pod}` && target !== `pods/${pod}`) {
    return refuse('outside-scope', `${JSON.stringify(target)} is outside your certificate's scope (pod ${pod})`);
  }
  const remote = rest[rest.length - 1];
  if (rest.length === 0 || rest.length > 2 || remote === undefined || !/^[1-9][0-9]{0,4}$/.test(remote) || Number(remote) > 65_535) {
    return refuse('not-allowed', 'run it as: kubectl port-forward REMOTE_PORT (the pod is your certificate\'s)');
  }
  return {
    kind: 'run',
    argv: ['kubectl', '--namespace', namespace, 'port-forward', '--address', grant.forward.host, `pod/${pod}`, `${grant.forward.port}:${remote}`],
    allowedBy,
  };
}

function inPodCommand(words: string[], grant: SessionGrant, allowedBy: string): SessionDecision {
  const operationProblem = operationRefusal('exec', grant);
  if (operationProblem !== undefined) return operationProblem;
  const { pod, namespace } = grant.scope;
  if (pod === undefined) return refuse('needs-pod', `"${allowedBy}" runs inside a pod, and your certificate names none`);
  return { kind: 'run', argv: ['kubectl', '--namespace', namespace, 'exec', pod, '--', ...words], allowedBy };
}

function refuse(rule: SessionRule, reason: string): SessionDecision {
  return { kind: 'refuse', rule, reason };
}
