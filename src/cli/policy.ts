import type { Command } from 'commander';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { formatDuration } from '../policy/duration.ts';
import { evaluateSshRequest } from '../policy/evaluate.ts';
import { loadPolicyWithDigest } from '../policy/load.ts';
import type { Decision, Identity, Role } from '../policy/types.ts';
import { DEFAULT_JITCA_SIGNER } from '../policy/csr-evaluate.ts';
import { collect } from './common.ts';
import { readEnrolledKeyFile } from './enrolled-key-file.ts';
import { forCommandLine } from './command-line-wording.ts';
import { secondsValue } from './option-values.ts';
import { DEFAULT_CSR_USAGES, evaluateCsrFile, type CsrEvaluateOptions } from './policy-evaluate-csr.ts';
import { addSshRequestOptions, sshRequestFromOptions, type SshRequestOptions } from './ssh-request-options.ts';

interface EvaluateOptions extends SshRequestOptions, Partial<Omit<CsrEvaluateOptions, 'group' | 'signerName'>> {
  identity?: string;
  signerName: string;
  group: string[];
  via: string;
  keyType: string;
  enrolledKey?: string;
  expect?: string;
  at?: string;
}

const VIA = ['local-cli', 'oidc', 'local', 'gateway'] as const;
const OUTCOMES = ['approve', 'pending', 'deny'] as const;
/** A CSR for a signer jitca does not serve gets no decision at all. */
const CSR_OUTCOMES = [...OUTCOMES, 'ignore'] as const;

/**
 * Policy as code, in the policy's own repository: `check` is what its CI runs on every change (the
 * same loader serve uses, errors naming the JSON path), and prints the SHA-256 that `policy.loaded`
 * will record, so an audit record can be matched to the reviewed commit. `evaluate` answers "what
 * would this request get?" with the same pure function the CA decides with; with --expect it is a
 * test ("alice never gets root") that fails the build when a change would alter the answer.
 * Neither opens the HSM or the store.
 */
export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('check a policy file, and evaluate requests against it, without the CA');
  policy
    .command('check')
    .description('validate a policy file as serve would load it; print its SHA-256 (as audited in policy.loaded) and a summary of its roles')
    .argument('<file>', 'policy file (JSON)')
    .action((file: string) => {
      const { policy: loaded, sha256 } = loadPolicyWithDigest(file);
      process.stdout.write(`policy ${file}: valid, ${loaded.roles.length} role(s), sha256 ${sha256}\n`);
      for (const role of loaded.roles) process.stdout.write(`${describeRole(role)}\n`);
      if (loaded.revokerGroups !== undefined) process.stdout.write(`revokers: ${loaded.revokerGroups.join(', ')}\n`);
    });
  const evaluate = policy
    .command('evaluate')
    .description(
      'decide an SSH certificate request (or, with --csr, a Kubernetes CertificateSigningRequest) against a policy file exactly as the CA (or the controller) would, and print the decision as JSON',
    )
    .argument('<file>', 'policy file (JSON)')
    .option('--identity <name>', 'the requester of an SSH certificate')
    .option('--group <group>', 'a group of the requester (repeatable)', collect, [])
    .option('--via <channel>', `how the requester authenticated: ${VIA.join(', ')}`, 'oidc')
    .option('--key-type <type>', 'type of the key to certify, e.g. ssh-ed25519, sk-ssh-ed25519@openssh.com', 'ssh-ed25519')
    .option('--enrolled-key <file>', "the key's enrollment as JSON (a GET /v1/keys entry or `jitca attestation verify` output); absent: the key is not enrolled");
  addSshRequestOptions(evaluate)
    .option('--csr <file>', 'decide this PEM certificate request as a Kubernetes CSR instead, as `jitca controller` would')
    .option('--username <name>', "with --csr: the CSR's spec.username (who created it)")
    .option('--usage <usage>', `with --csr: a usage in the CSR's spec.usages (repeatable; default ${DEFAULT_CSR_USAGES.map((u) => `"${u}"`).join(', ')})`, collect)
    .option('--signer-name <name>', 'with --csr: spec.signerName; any name but kubernetes.io/kube-apiserver-client is taken as jitca\'s own signer', DEFAULT_JITCA_SIGNER)
    .option('--expiration-seconds <seconds>', "with --csr: the CSR's spec.expirationSeconds (default: not set)", secondsValue('--expiration-seconds'))
    .option('--at <time>', 'when the request is made, for working hours: an ISO 8601 time with a zone, e.g. 2026-03-29T09:30:00+02:00 (default: now)')
    .option('--expect <outcome>', `exit 1 unless the outcome is this: ${OUTCOMES.join(', ')} (with --csr also ignore)`)
    .action((file: string, options: EvaluateOptions) => {
      if (options.csr !== undefined) {
        evaluateCsrCommand(file, { ...options, csr: options.csr });
        return;
      }
      if (options.identity === undefined) throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'name the requester with --identity (or a CSR with --csr)');
      if (options.username !== undefined) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--username is for --csr; an SSH request names its requester with --identity');
      const via = oneOf(options.via, VIA, '--via');
      const expected = options.expect === undefined ? undefined : oneOf(options.expect, OUTCOMES, '--expect');
      const { policy: loaded } = loadPolicyWithDigest(file);
      const identity: Identity = { subject: options.identity, groups: options.group, via };
      const decision = evaluateSshRequest(loaded, identity, sshRequestFromOptions(options), {
        type: options.keyType,
        isSecurityKey: options.keyType.startsWith('sk-'),
        ...(options.enrolledKey === undefined ? {} : { enrollment: readEnrolledKeyFile(options.enrolledKey) }),
      }, evaluationTime(options.at));
      process.stdout.write(`${JSON.stringify(summarise(decision), null, 2)}\n`);
      checkExpected(expected, decision.outcome);
    });
}

function evaluateCsrCommand(file: string, options: EvaluateOptions & { csr: string }): void {
  if (options.identity !== undefined) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--csr names its requester with --username (spec.username), not --identity');
  const expected = options.expect === undefined ? undefined : oneOf(options.expect, CSR_OUTCOMES, '--expect');
  const { policy: loaded } = loadPolicyWithDigest(file);
  const decision = evaluateCsrFile(loaded, options);
  process.stdout.write(`${JSON.stringify(decision, null, 2)}\n`);
  checkExpected(expected, decision.outcome);
}

/** A zone is required: a bare local time would be read in this machine's zone, not the policy's. */
const ISO_TIME_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;

function evaluationTime(at: string | undefined): Date {
  if (at === undefined) return new Date();
  const parsed = ISO_TIME_WITH_ZONE.test(at) ? new Date(at) : undefined;
  if (parsed === undefined || Number.isNaN(parsed.getTime())) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--at must be an ISO 8601 time with a zone, e.g. 2026-03-29T09:30:00+02:00; got ${JSON.stringify(at)}`);
  }
  return parsed;
}

function checkExpected(expected: string | undefined, outcome: string): void {
  if (expected !== undefined && outcome !== expected) {
    process.stderr.write(`jitca: expected ${expected}, the policy decides ${outcome}\n`);
    process.exitCode = 1;
  }
}

/** The decision without internals a reader does not need; the grant is what the certificate would say. */
function summarise(decision: Decision): Record<string, unknown> {
  if (decision.outcome === 'deny') return { outcome: 'deny', rule: decision.rule, message: forCommandLine(decision.message, decision.rule) };
  const { grant } = decision;
  return {
    outcome: decision.outcome,
    role: grant.role,
    ...(decision.outcome === 'pending' ? { approval: decision.approval } : {}),
    grant,
    ...(decision.notes.length === 0 ? {} : { notes: decision.notes }),
  };
}

function describeRole(role: Role): string {
  const approval =
    role.approval.mode === 'auto' ? 'auto' : `manual: ${role.approval.approvals} of ${role.approval.approverGroups.join('|')}`;
  const parts = [
    `role ${role.name}`,
    `groups ${role.groups.join('|')}`,
    `principals ${role.principals.join(',')}`,
    `ttl <= ${formatDuration(role.maxTtlSeconds)}`,
    `approval ${approval}`,
    `clusters ${role.scope.clusters.join(',')}`,
    `namespaces ${role.scope.namespaces.join(',')}`,
  ];
  if (role.commands !== undefined) parts.push(`commands ${role.commands.length}`);
  if (role.forceCommand !== undefined) parts.push('force-command');
  if (role.sourceAddresses !== undefined) parts.push(`source ${role.sourceAddresses.join(',')}`);
  if (role.verifyRequired === true) parts.push('verify-required');
  if (role.allowGateway === true) parts.push('gateway');
  if (role.kubernetes !== undefined) parts.push(`kubernetes ${role.kubernetes.groups.join(',')}`);
  return parts.join('; ');
}

function oneOf<T extends string>(value: string, allowed: readonly T[], option: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `${option} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}
