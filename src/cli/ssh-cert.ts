import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../atomic-file.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { ROLE_NAME_PATTERN } from '../policy/patterns.ts';
import { loadClientConfig } from '../client/client-config.ts';
import { pickHardwareKey, publicKeysFrom, type HardwareKeySource } from '../client/hardware-key-source.ts';
import { listEnrolledKeys } from '../client/key-enrollment.ts';
import type { ApiSession } from '../client/approver-requests.ts';
import { awaitSshCertificate, requestSshCertificate } from '../client/request-ssh-certificate.ts';
import { checkSshAgentReachable } from '../client/ssh-agent.ts';
import { currentToken, renewingToken } from '../client/token-source.ts';
import { collect } from './common.ts';
import { durationValue } from './option-values.ts';
import { progressLine } from './progress-line.ts';

interface SshCertOptions {
  clientConfig?: string;
  role?: string;
  ttl?: string;
  key?: string;
  principal?: string[];
  cluster?: string;
  namespace?: string;
  pod?: string;
  node?: string;
  command?: string[];
  operation?: string[];
  reason?: string;
  requestId?: string;
  agent?: boolean;
  pkcs11?: string;
  fromAgent?: boolean;
  keyFingerprint?: string;
}

/**
 * One key, and so one <key>-cert.pub, per role named with --role: a certificate for one role does
 * not overwrite another's, and ssh -i or ssh-add picks the role by file. Without --role the server
 * picks the role, and the certificate keeps the name it always had (jitca_ed25519-cert.pub), so
 * ssh configurations that name it keep working.
 */
function defaultKeyForRole(role: string | undefined, name = 'jitca_ed25519'): string {
  const base = path.join(os.homedir(), '.ssh', name);
  if (role === undefined) return base;
  // The role becomes part of a file name: only a name the policy could hold (no "/" or "..").
  if (!new RegExp(ROLE_NAME_PATTERN).test(role)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--role ${JSON.stringify(role.slice(0, 70))} is not a role name (lower-case letters, digits and "-")`);
  }
  return `${base}-${role}`;
}

/** Where the key comes from when it is not a file; refuses combinations that cannot work. */
function hardwareSource(options: SshCertOptions): HardwareKeySource | undefined {
  const chosen = [options.key !== undefined, options.pkcs11 !== undefined, options.fromAgent === true].filter(Boolean).length;
  if (chosen > 1) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--key, --pkcs11 and --from-agent each name the key to certify: give one');
  if (options.keyFingerprint !== undefined && chosen === 0) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--key-fingerprint chooses among the keys of --pkcs11 or --from-agent');
  if (options.pkcs11 === undefined && options.fromAgent !== true) return undefined;
  // --agent adds a key file and its certificate to the agent; a token's key is not a file.
  if (options.agent === true) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--agent adds a key file to ssh-agent; with --pkcs11 or --from-agent use ssh -o CertificateFile instead');
  if (options.pkcs11 !== undefined) return { kind: 'token', module: options.pkcs11 };
  const socket = process.env['SSH_AUTH_SOCK'];
  if (socket === undefined || socket === '') throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--from-agent: SSH_AUTH_SOCK is not set, so there is no ssh-agent to ask');
  return { kind: 'agent', socket };
}

/**
 * The key path (its -cert.pub is where the certificate goes) and the public key line to send.
 * A key file is generated when missing; a token's or agent's key is chosen by hardware-key-source.ts.
 */
async function keyToCertify(options: SshCertOptions, source: HardwareKeySource | undefined, session: ApiSession): Promise<{ key: string; publicKey: string }> {
  if (source === undefined) {
    const key = options.key ?? defaultKeyForRole(options.role);
    if (!existsSync(key) && options.requestId !== undefined) {
      // A resumed request was made for a key that exists: a new one could never match it.
      throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--request-id: there is no key ${key}; give the --key (or --role) the request was made with`);
    }
    if (!existsSync(key)) {
      // ssh-keygen does not create ~/.ssh, and on a fresh account it may not exist yet.
      mkdirSync(path.dirname(key), { recursive: true, mode: 0o700 });
      // A fresh key that never leaves this machine; the certificate is what expires.
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'jitca', '-f', key]);
    }
    return { key, publicKey: readFileSync(`${key}.pub`, 'utf8').trim() };
  }
  const enrolled = await listEnrolledKeys(session);
  const fingerprints = enrolled.map((entry) => entry['fingerprint']).filter((value): value is string => typeof value === 'string');
  const chosen = pickHardwareKey(await publicKeysFrom(source), fingerprints, options.keyFingerprint);
  const key = defaultKeyForRole(options.role, 'jitca_hardware');
  mkdirSync(path.dirname(key), { recursive: true, mode: 0o700 });
  return { key, publicKey: `${chosen.type} ${Buffer.from(chosen.blob).toString('base64')}` };
}

/** A resumed request keeps the terms it was made with: options that would change them are refused, not ignored. */
function refuseNewTerms(options: SshCertOptions): void {
  const given = Object.entries({ '--ttl': options.ttl, '--principal': options.principal, '--cluster': options.cluster, '--namespace': options.namespace, '--pod': options.pod, '--node': options.node, '--command': options.command, '--operation': options.operation, '--reason': options.reason })
    .filter(([, value]) => value !== undefined)
    .map(([name]) => name);
  if (given.length > 0) throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--request-id resumes a request as it was made: leave out ${given.join(', ')}`);
}

/** Exit status of a wait stopped with Ctrl-C (128 + SIGINT, as a shell reports it). */
export const INTERRUPTED_EXIT = 130;

/**
 * Ctrl-C while waiting leaves the request pending on the server: say how to pick it up again,
 * with the key it was made for, instead of dying silently. Installed once per run.
 */
let interruptHandled = false;
function resumeOnInterrupt(requestId: string, options: SshCertOptions, endLine: () => void): void {
  if (interruptHandled) return;
  interruptHandled = true;
  const keyArgument = options.key !== undefined ? ` --key ${options.key}` : options.role !== undefined ? ` --role ${options.role}` : '';
  const source = options.pkcs11 !== undefined ? ` --pkcs11 ${options.pkcs11}` : options.fromAgent === true ? ' --from-agent' : '';
  process.once('SIGINT', () => {
    endLine();
    process.stderr.write(`jitca: stopped waiting; request ${requestId} stays pending until approved, denied or expired.\n`);
    process.stderr.write(`jitca: resume with: jitca ssh-cert --request-id ${requestId}${keyArgument}${source}\n`);
    process.exit(INTERRUPTED_EXIT);
  });
}

export function registerSshCert(program: Command): void {
  program
    .command('ssh-cert')
    .description('engineers: get a short-lived SSH certificate for your key (waits for approval when the role needs it)')
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .option('--role <role>', 'policy role, e.g. oncall-payments')
    .option('--ttl <duration>', 'lifetime, e.g. 30m', durationValue)
    .option('--key <file>', 'private key to certify (default ~/.ssh/jitca_ed25519, or ~/.ssh/jitca_ed25519-<role> with --role; generated when missing)')
    .option('--principal <principal>', 'narrow principals (repeatable)', collect)
    .option('--cluster <cluster>', 'scope: cluster')
    .option('--namespace <namespace>', 'scope: namespace')
    .option('--pod <pod>', 'scope: pod')
    .option('--node <node>', 'scope: node')
    .option('--command <command>', 'narrow allowed commands (repeatable)', collect)
    .option('--operation <operation>', 'operation needed: view-logs, view-config, exec, debug, port-forward (repeatable; default: the least the role allows)', collect)
    .option('--reason <text>', 'why you need access (audited; required unless --request-id)')
    .option('--request-id <id>', 'resume waiting for a request made before (the id ssh-cert printed), with the key it was made for')
    .option('--agent', 'add key and certificate to ssh-agent for exactly the certificate lifetime')
    .option('--pkcs11 <module>', 'certify a key in a PKCS#11 token instead of a key file (a YubiKey PIV key: the libykcs11.so or opensc-pkcs11.so path)')
    .option('--from-agent', 'certify a key ssh-agent holds instead of a key file')
    .option('--key-fingerprint <SHA256:...>', 'with --pkcs11 or --from-agent: which key (default: the one you enrolled, or the only one)')
    .action(async (options: SshCertOptions) => {
      if (options.requestId === undefined && options.reason === undefined) {
        throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--reason is required: say why you need access (it is audited)');
      }
      if (options.requestId !== undefined) refuseNewTerms(options);
      const config = loadClientConfig(options.clientConfig);
      const source = hardwareSource(options);
      if (options.agent === true) checkSshAgentReachable();
      const token = await currentToken(config);
      const ca = config.caFile === undefined ? undefined : readFileSync(config.caFile);
      const { key, publicKey } = await keyToCertify(options, source, { server: config.server, token, ca });
      const scope = Object.fromEntries(
        Object.entries({ cluster: options.cluster, namespace: options.namespace, pod: options.pod, node: options.node }).filter(
          (entry): entry is [string, string] => entry[1] !== undefined,
        ),
      );
      const waiting = progressLine();
      const wait = { ca, progress: (line: string) => waiting.show(line), onPending: (id: string) => resumeOnInterrupt(id, options, () => waiting.end()) };
      const result = await (options.requestId !== undefined
        ? awaitSshCertificate(config.server, renewingToken(config, token), options.requestId, publicKey, wait)
        : requestSshCertificate(
            config.server,
            renewingToken(config, token),
            {
              publicKey,
              role: options.role,
              ttl: options.ttl,
              principals: options.principal,
              scope: Object.keys(scope).length === 0 ? undefined : scope,
              commands: options.command,
              operations: options.operation,
              reason: options.reason as string,
            },
            wait,
          )
      ).finally(() => waiting.end());
      const certificatePath = `${key}-cert.pub`;
      // Atomic: ssh or ssh-add reading the file meanwhile sees the old certificate or the new one.
      writeFileAtomic(certificatePath, `${result.certificate}\n`, 0o644);
      const remaining = Math.floor((result.validBefore.getTime() - Date.now()) / 1000);
      // The server says what it changed, a capped --ttl above all: the engineer asked for longer.
      for (const note of result.notes) process.stderr.write(`jitca: ${note}\n`);
      process.stderr.write(`jitca: wrote ${certificatePath} (serial ${result.serial}, valid ${remaining}s more)\n`);
      if (source !== undefined) {
        // The private key stays in the token or agent: ssh pairs it with the certificate file.
        const provider = source.kind === 'token' ? ` -I ${source.module}` : '';
        process.stderr.write(`jitca: log in with: ssh -o CertificateFile=${certificatePath}${provider} USER@HOST\n`);
      }
      if (options.agent === true && remaining > 0) {
        // ssh-add picks up <key>-cert.pub next to the key; -t drops both when the cert expires.
        execFileSync('ssh-add', ['-t', String(remaining), key], { stdio: ['ignore', 'ignore', 'inherit'] });
      }
    });
}
