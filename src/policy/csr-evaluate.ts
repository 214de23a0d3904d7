/**
 * evaluateCsr: the pure decision over a Kubernetes CertificateSigningRequest (CONTRIBUTING.md,
 * "Decide, then act"). The CSR controller (src/k8s) carries the decision out; nothing here talks to
 * the API, signs, stores or reads the clock.
 *
 * Kubernetes authenticates a client certificate as user = CN and groups = the O values
 * (kubernetes.io docs "Authenticating: X509 client certificates"), so what a CSR can grant is its
 * subject: the CN must be the requester (spec.username, set by the apiserver from the caller's
 * credentials, never by the caller) and every O must be a group a role of the requester may hand out.
 *
 * Lifetime: spec is immutable after creation, so a CSR asking for more than the role's maximum
 * cannot be shortened through the API. For signers that only approve (kube-apiserver-client, whose
 * certificate kube-controller-manager signs with min(expirationSeconds, --cluster-signing-duration))
 * such a CSR is denied, and so is one without expirationSeconds (it would get the cluster's signing
 * duration, one year by default). For jitca's own signer the certificate is cut to the maximum
 * instead, since jitca writes notAfter itself.
 *
 * Requested extensions: jitca's own signer writes its own and ignores the CSR's. Approving for
 * kube-apiserver-client is different: kube-controller-manager copies the CSR's subjectAltNames
 * (DNS, IP, email, URI) into the certificate it signs (pkg/controller/certificates/authority
 * Sign: DNSNames, IPAddresses, EmailAddresses, URIs from the request), so a CSR asking for any is
 * denied there: a certificate must not carry names no role granted.
 *
 * Subject: kube-controller-manager copies the CSR's whole subject too (authority.go Sign: Subject:
 * csr.Subject), so for kube-apiserver-client the subject must be exactly one CN and the O values,
 * each at most 64 characters (RFC 5280 ub-common-name / ub-organization-name, and what jitca's own
 * signer can write) and no O twice. That is as long as a real one gets: every O must be a group
 * one role grants (at most 64 by the policy schema), so distinct O values are bounded by the role,
 * and a repeat grants nothing, it only lengthens the certificate. jitca's own signer writes CN and
 * O itself: other attributes are ignored, and the Approved condition says so, as it says when the
 * lifetime is cut or requested extensions are dropped (CsrGrant.ignored).
 */
import { approvalAt } from './evaluate.ts';
import { operationsForGroups, type OperationsOutcome } from './operations.ts';
import type { ApprovalRule, OperationName, Policy, Role } from './types.ts';
import type { ParsedCsr } from '../x509/csr.ts';

/** How the controller serves a signerName: only approve/deny, or approve and sign itself. */
export type CsrSignerMode = 'approve' | 'sign';

export const KUBE_APISERVER_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client';
export const DEFAULT_JITCA_SIGNER = 'jitca.dev/debug-client';

/** signerName -> mode; a CSR for any other signer is not jitca's business. */
export type CsrSigners = Readonly<Record<string, CsrSignerMode>>;

export const DEFAULT_CSR_SIGNERS: CsrSigners = {
  [KUBE_APISERVER_CLIENT_SIGNER]: 'approve',
  [DEFAULT_JITCA_SIGNER]: 'sign',
};

/** Role.kubernetes.maxExpirationSeconds when the role names none: the seeds' 30-minute session. */
export const DEFAULT_MAX_EXPIRATION_SECONDS = 1800;

export type CsrDenyRule =
  | 'csr.invalid'
  | 'csr.cn-mismatch'
  | 'csr.system-user'
  | 'csr.system-group'
  | 'csr.no-role'
  | 'csr.groups-not-allowed'
  | 'csr.groups-beyond-operations'
  | 'csr.key'
  | 'csr.usages'
  | 'csr.subject-alt-names'
  | 'csr.subject-attributes'
  | 'csr.subject-too-long'
  | 'csr.expiration-over-max'
  /** Outside the role's working hours, not on-call, and the role has no outsideApproval. */
  | 'csr.working-hours'
  /** The operation needs two distinct approvers, which a Kubernetes Approved condition cannot show. */
  | 'csr.two-approvers';

export type CsrRule = CsrDenyRule | 'csr.allowed' | 'csr.manual-approval';

export interface CsrEvaluationInput {
  /** spec.username: who created the CSR, as the apiserver authenticated them. */
  username: string;
  /** spec.groups from the apiserver (includes "system:authenticated"). */
  groups: string[];
  signerName: string;
  expirationSeconds?: number;
  usages: string[];
  csr: Pick<ParsedCsr, 'subject' | 'keyAlgorithm' | 'requestedExtensions'>;
  /**
   * The cluster that certificates from jitca's own signer are scoped to (the controller's
   * clusterName); with it, such a grant carries the scope extension's cluster and namespace.
   */
  scopeCluster?: string;
  /**
   * When the CSR was made (metadata.creationTimestamp): the role's working hours are judged at
   * this time, as the API judges a request at its own. Absent: judged as outside the hours.
   */
  at?: Date;
  /**
   * The people's approval is already given elsewhere and counted by jitca (the gateway's
   * credential rests on the SSH request's approvals): the working-hours and approver rules were
   * applied to that request, not again here.
   */
  approvalGiven?: true;
}

/** Exactly what the certificate may say. */
export interface CsrGrant {
  role: string;
  commonName: string;
  organizations: string[];
  /** Lifetime to issue (jitca's signer) or that the CSR asked for (approve-only signers). */
  expirationSeconds: number;
  /** True when the request asked for more (or nothing) and jitca's signer cuts it to the maximum. */
  capped: boolean;
  usages: string[];
  /** What the CSR asks for that jitca's signer leaves out of the certificate (empty for approve-only signers). */
  ignored: CsrIgnored;
  /**
   * jitca's signer with a scopeCluster: the scope extension's cluster and namespace. The namespace
   * is the role's only namespace, or "*" when it spans several (RBAC groups then decide).
   */
  scope?: { cluster: string; namespace: string };
  /** The operations the O values enable, when the role's operations name Kubernetes groups (the audit names them). */
  operations?: OperationName[];
}

export interface CsrIgnored {
  /** Requested extensions, by name ("basicConstraints") or OID when jitca has no name for it. */
  extensions: string[];
  /** Subject attributes other than CN and O, by short name ("OU") or OID, each once. */
  subjectAttributes: string[];
}

export type CsrDecision =
  | { outcome: 'approve'; rule: 'csr.allowed'; message: string; grant: CsrGrant }
  /** The role wants a person to approve (kubectl certificate approve); the controller leaves it. */
  | { outcome: 'pending'; rule: 'csr.manual-approval'; message: string; grant: CsrGrant; approverGroups: string[] }
  | { outcome: 'deny'; rule: CsrDenyRule; message: string }
  /** Not a signer this controller serves: no decision at all. */
  | { outcome: 'ignore'; message: string };

const RESERVED_PREFIX = 'system:';
const CLIENT_AUTH = 'client auth';
const DIGITAL_SIGNATURE = 'digital signature';
const KEY_ENCIPHERMENT = 'key encipherment';
const MAX_ECHO = 80;
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
/** RFC 5280 Appendix A ub-common-name and ub-organization-name (x509/distinguished-name.ts). */
const MAX_SUBJECT_VALUE_LENGTH = 64;
/** Names listed in a condition message before "and N more": the message is cut at 1024 characters. */
const MAX_LISTED = 8;

const EXTENSION_NAMES: Readonly<Record<string, string>> = {
  '2.5.29.14': 'subjectKeyIdentifier',
  '2.5.29.15': 'keyUsage',
  '2.5.29.17': 'subjectAltName',
  '2.5.29.19': 'basicConstraints',
  '2.5.29.30': 'nameConstraints',
  '2.5.29.31': 'cRLDistributionPoints',
  '2.5.29.32': 'certificatePolicies',
  '2.5.29.35': 'authorityKeyIdentifier',
  '2.5.29.37': 'extendedKeyUsage',
  '1.3.6.1.5.5.7.1.1': 'authorityInfoAccess',
};

/** A requester-controlled string, quoted and cut short, safe for a condition message or a log line. */
function echo(value: string): string {
  const text = value.length > MAX_ECHO ? `${value.slice(0, MAX_ECHO)}…` : value;
  return JSON.stringify(text);
}

function isReserved(name: string): boolean {
  return name.toLowerCase().startsWith(RESERVED_PREFIX);
}

function deny(rule: CsrDenyRule, message: string): CsrDecision {
  return { outcome: 'deny', rule, message: `${rule}: ${message}` };
}

/** "a, b, c and 3 more": OIDs and short names only, never a requested value. */
function listed(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown} and ${names.length - MAX_LISTED} more` : shown;
}

/** Why a subject kube-controller-manager would copy as it is cannot be approved, if it cannot. */
function subjectProblem(subject: CsrEvaluationInput['csr']['subject']): CsrDecision | undefined {
  if (subject.other.length > 0) {
    const types = [...new Set(subject.other.map((attribute) => attribute.name ?? attribute.type))];
    return deny(
      'csr.subject-attributes',
      `the subject holds ${listed(types)} besides CN and O, which kube-controller-manager would copy into the certificate; request a subject of one CN and the O values only`,
    );
  }
  const long = [subject.commonName ?? '', ...subject.organizations].find((value) => [...value].length > MAX_SUBJECT_VALUE_LENGTH);
  if (long !== undefined) {
    return deny('csr.subject-too-long', `subject value ${echo(long)} is longer than ${MAX_SUBJECT_VALUE_LENGTH} characters (RFC 5280 upper bound)`);
  }
  const repeated = subject.organizations.find((o, i) => subject.organizations.indexOf(o) !== i);
  if (repeated !== undefined) {
    return deny('csr.subject-too-long', `O=${echo(repeated)} appears more than once; each group is named once`);
  }
  return undefined;
}

/** What jitca's own signer drops from the request: it writes CN, O and its own extensions only. */
function ignoredBySigner(csr: CsrEvaluationInput['csr']): CsrIgnored {
  return {
    extensions: csr.requestedExtensions.all.map((extension) => EXTENSION_NAMES[extension.oid] ?? extension.oid),
    subjectAttributes: [...new Set(csr.subject.other.map((attribute) => attribute.name ?? attribute.type))],
  };
}

/** "expirationSeconds capped to 1800; requested extensions ignored: ...": what the Approved condition tells the requester. */
function describeChanges(grant: CsrGrant, asked: number | undefined): string {
  const changes: string[] = [];
  if (grant.capped) changes.push(`expirationSeconds capped to ${grant.expirationSeconds} (role maximum; ${asked === undefined ? 'none requested' : `requested ${asked}`})`);
  if (grant.ignored.extensions.length > 0) changes.push(`requested extensions ignored: ${listed(grant.ignored.extensions)}`);
  if (grant.ignored.subjectAttributes.length > 0) changes.push(`subject attributes ignored: ${listed(grant.ignored.subjectAttributes)}`);
  return changes.map((change) => `; ${change}`).join('');
}

export function evaluateCsr(policy: Policy, input: CsrEvaluationInput, signers: CsrSigners = DEFAULT_CSR_SIGNERS): CsrDecision {
  const mode = Object.hasOwn(signers, input.signerName) ? signers[input.signerName] : undefined;
  if (mode === undefined) return { outcome: 'ignore', message: `signerName ${echo(input.signerName)} is not served by jitca` };

  const { commonName, organizations } = input.csr.subject;
  if (commonName === undefined || commonName !== input.username) {
    return deny(
      'csr.cn-mismatch',
      `the CSR's CN ${commonName === undefined ? '(none)' : echo(commonName)} is not the requesting user ${echo(input.username)}; a client certificate can only be requested for yourself`,
    );
  }
  if (isReserved(input.username)) {
    return deny('csr.system-user', `user ${echo(input.username)} is a Kubernetes system identity; jitca does not issue certificates to "system:" users`);
  }
  const reserved = organizations.find(isReserved);
  if (reserved !== undefined) {
    return deny('csr.system-group', `O=${echo(reserved)} is a Kubernetes system group; "system:" groups are never put in a certificate`);
  }

  // A "system:" group of the requester (system:authenticated, system:masters, ...) opens no role.
  const requesterGroups = input.groups.filter((group) => !isReserved(group));
  const open = policy.roles.filter(
    (role): role is Role & { kubernetes: NonNullable<Role['kubernetes']> } =>
      role.kubernetes !== undefined &&
      role.groups.some((group) => !isReserved(group) && requesterGroups.includes(group)) &&
      (role.kubernetes.signerNames === undefined || role.kubernetes.signerNames.includes(input.signerName)),
  );
  if (open.length === 0) {
    return deny(
      'csr.no-role',
      `no role with Kubernetes certificates for signer ${input.signerName} is open to user ${echo(input.username)} (groups: ${requesterGroups.join(', ') || 'none'})`,
    );
  }
  const covering = open.filter((role) => organizations.every((o) => role.kubernetes.groups.includes(o)));
  if (covering.length === 0) {
    const allowed = [...new Set(open.flatMap((role) => role.kubernetes.groups))];
    const notAllowed = organizations.filter((o) => !allowed.includes(o));
    const what = notAllowed.length > 0 ? notAllowed.map((o) => `O=${echo(o)}`).join(', ') : `the combination ${organizations.map((o) => echo(o)).join(', ')}`;
    return deny(
      'csr.groups-not-allowed',
      `${what} is not allowed for user ${echo(input.username)} by roles ${open.map((r) => r.name).join(', ')} (allowed O values: ${allowed.join(', ')}; one role must allow all of them)`,
    );
  }
  // A role whose operations name Kubernetes groups covers only the exact groups of some operations.
  const fitting: { role: (typeof covering)[number]; operations: OperationsOutcome | undefined; approval: ApprovalRule }[] = [];
  let beyondOperations: string | undefined;
  for (const candidate of covering) {
    const operations = operationsForGroups(candidate, organizations);
    if (operations !== undefined && 'rule' in operations) {
      beyondOperations ??= operations.message;
      continue;
    }
    fitting.push({ role: candidate, operations, approval: operations?.approval ?? candidate.approval });
  }
  if (fitting.length === 0 && beyondOperations !== undefined) return deny('csr.groups-beyond-operations', beyondOperations);
  // Prefer a role that approves by itself; then policy order.
  const chosen = fitting.find((candidate) => candidate.approval.mode === 'auto') ?? fitting[0];
  if (chosen === undefined) return deny('csr.no-role', 'no role applies');
  const { role, operations } = chosen;
  // The working-hours rule, as on the API path: outside the window only on-call is decided as
  // usual; everyone else needs the window's outsideApproval, or is refused.
  const hoursNotes: string[] = [];
  const approval = input.approvalGiven === true ? chosen.approval : approvalAt(role, requesterGroups, chosen.approval, input.at, hoursNotes);
  if ('outcome' in approval) return deny('csr.working-hours', approval.message);
  // The Approved condition says that someone with the cluster's approve permission approved, not
  // who, and it is one condition: it can stand for one approver (the approver group's RBAC), never
  // for two distinct ones. A two-person operation is for jitca's own approvals (the API, and the
  // gateway's one approval for both credentials), which count people.
  if (approval.mode === 'manual' && approval.approvals === 2 && input.approvalGiven !== true) {
    return deny(
      'csr.two-approvers',
      `role ${role.name}${operations === undefined ? '' : ` for operations ${operations.operations.join(', ')}`} needs two distinct approvers from ${approval.approverGroups.join(', ')}, which a CertificateSigningRequest's Approved condition cannot show: ask through jitca (jitca ssh-cert, then the gateway's Kubernetes credential), where approvals are counted`,
    );
  }

  const key = input.csr.keyAlgorithm;
  const keyOk = key.kind === 'ed25519' || (key.kind === 'ecdsa' && (key.curve === 'P-256' || key.curve === 'P-384')) || (key.kind === 'rsa' && key.bits >= 2048);
  if (!keyOk) {
    return deny('csr.key', `the CSR's key is not allowed (allowed: Ed25519, ECDSA P-256 or P-384, RSA of 2048 bits or more)`);
  }

  const allowKeyEncipherment = role.kubernetes.allowKeyEncipherment === true;
  const allowedUsages = [CLIENT_AUTH, DIGITAL_SIGNATURE, ...(allowKeyEncipherment ? [KEY_ENCIPHERMENT] : [])];
  const badUsage = input.usages.find((usage) => !allowedUsages.includes(usage));
  const duplicate = input.usages.find((usage, i) => input.usages.indexOf(usage) !== i);
  if (badUsage !== undefined || duplicate !== undefined || !input.usages.includes(CLIENT_AUTH)) {
    const problem =
      badUsage !== undefined
        ? `usage ${echo(badUsage)} is not allowed`
        : duplicate !== undefined
          ? `usage ${echo(duplicate)} is listed twice`
          : `"client auth" is missing`;
    return deny('csr.usages', `${problem}; role ${role.name} allows exactly "client auth", optionally with ${allowedUsages.slice(1).map((u) => `"${u}"`).join(' or ')}`);
  }

  if (mode === 'approve') {
    const problem = subjectProblem(input.csr.subject);
    if (problem !== undefined) return problem;
  }

  const names = input.csr.requestedExtensions.subjectAltNames ?? [];
  if (mode === 'approve' && (names.length > 0 || input.csr.requestedExtensions.all.some((extension) => extension.oid === OID_SUBJECT_ALT_NAME))) {
    return deny(
      'csr.subject-alt-names',
      `the CSR asks for subjectAltNames (${names.map((name) => name.type).join(', ') || 'an empty list'}), which signer ${input.signerName} would copy into the certificate; a client certificate from jitca carries only CN and O: request one without subjectAltName`,
    );
  }

  // The shortest lifetime among the operations enabled caps the role's.
  const max = Math.min(role.kubernetes.maxExpirationSeconds ?? DEFAULT_MAX_EXPIRATION_SECONDS, operations?.maxTtlSeconds ?? Infinity);
  const asked = input.expirationSeconds;
  let expirationSeconds = max;
  let capped = false;
  if (asked === undefined || !Number.isInteger(asked) || asked <= 0) {
    if (mode === 'approve') {
      return deny(
        'csr.expiration-over-max',
        `spec.expirationSeconds is not set, so signer ${input.signerName} would use the cluster's signing duration; role ${role.name} allows at most ${max} s: set spec.expirationSeconds`,
      );
    }
    capped = true;
  } else if (asked > max) {
    if (mode === 'approve') {
      return deny(
        'csr.expiration-over-max',
        `expirationSeconds ${asked} exceeds role ${role.name} max ${max} s, and signer ${input.signerName} cannot be made to issue less: ask for ${max} or fewer`,
      );
    }
    capped = true;
  } else {
    expirationSeconds = asked;
  }

  const grant: CsrGrant = {
    role: role.name,
    commonName,
    organizations: [...organizations],
    expirationSeconds,
    capped,
    usages: [...input.usages],
    ignored: mode === 'sign' ? ignoredBySigner(input.csr) : { extensions: [], subjectAttributes: [] },
    ...(mode === 'sign' && input.scopeCluster !== undefined ? { scope: { cluster: input.scopeCluster, namespace: onlyNamespace(role) } } : {}),
    ...(operations === undefined ? {} : { operations: [...operations.operations] }),
  };
  const changes = `${describeChanges(grant, asked)}${hoursNotes.map((note) => `; ${note}`).join('')}`;
  const forOperations = operations === undefined ? '' : ` for operations ${operations.operations.join(', ')}`;
  if (approval.mode === 'manual') {
    return {
      outcome: 'pending',
      rule: 'csr.manual-approval',
      message: `csr.manual-approval: role ${role.name}${forOperations} needs a person from ${approval.approverGroups.join(', ')} to approve (kubectl certificate approve)${changes}`,
      grant,
      approverGroups: [...approval.approverGroups],
    };
  }
  return { outcome: 'approve', rule: 'csr.allowed', message: `csr.allowed: role ${role.name}${forOperations}, lifetime ${expirationSeconds} s${changes}`, grant };
}

/** The namespace a certificate of this role is bound to: its only namespace, or "*" for several (or any). */
function onlyNamespace(role: Role): string {
  const namespaces = role.scope.namespaces;
  return namespaces.length === 1 && namespaces[0] !== '*' ? namespaces[0]! : '*';
}
