/**
 * Plain data shared by the policy loader, the evaluator and the issuance pipeline. Policy is a JSON
 * file reviewed like code; evaluate() is a pure function over it, an identity, a request and a
 * clock (CONTRIBUTING.md, "Decide, then act").
 */

/** Who is asking, after authentication (OIDC, gateway, or the local security-team CLI). */
export interface Identity {
  /** Stable person identifier, e.g. "alice" or an OIDC `sub`. */
  subject: string;
  /** Identity-provider groups, e.g. ["oncall-payments"]. */
  groups: string[];
  /** How the identity was established; a role may refuse some channels. */
  via: 'local-cli' | 'oidc' | 'local' | 'gateway';
  /** Set when a gateway asks on behalf of an engineer: the gateway's own service identity. */
  actingFor?: string;
}

/** The scope a certificate is bound to; the gateway and the k8s side read it. */
export interface Scope {
  cluster: string;
  namespace: string;
  pod?: string;
  node?: string;
}

export type SshExtensionName =
  | 'permit-pty'
  | 'permit-port-forwarding'
  | 'permit-agent-forwarding'
  | 'permit-X11-forwarding'
  | 'permit-user-rc';

export type ApprovalRule =
  | { mode: 'auto' }
  /** approvals: how many distinct approvers (never the requester) must approve. */
  | { mode: 'manual'; approverGroups: string[]; approvals: 1 | 2 };

/**
 * The operations of the design documents' approval matrix (issue 15). Each maps to one RBAC Role on
 * the Kubernetes side (deploy/kubernetes/) and travels in the extension operations@<domain>.
 */
export type OperationName = 'view-logs' | 'view-config' | 'exec' | 'debug' | 'port-forward';

/** One row of the matrix as a role grants it. */
export interface OperationGrant {
  name: OperationName;
  approval: ApprovalRule;
  /** Longest certificate lifetime when this operation is requested, seconds (never above the role's). */
  maxTtlSeconds: number;
  /**
   * The Kubernetes groups (client certificate O values) this operation grants, each one of the
   * role's kubernetes.groups and bound to an RBAC Role (deploy/kubernetes/rbac-operation-roles.json).
   * Once any operation of a role names some, the role's Kubernetes certificates carry exactly the
   * groups of the operations granted (operations.ts operationsForGroups).
   */
  kubernetesGroups?: string[];
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/**
 * The design documents' rule "outside working hours requires on-call": inside the window a request
 * is decided as usual; outside it, members of onCallGroups are decided as usual and everyone else
 * needs outsideApproval (absent: refused).
 */
export interface WorkingHours {
  days: Weekday[];
  /** "HH:MM", local time in timeZone; the window is [start, end). */
  start: string;
  end: string;
  /** IANA time zone, e.g. "Europe/Berlin"; daylight saving is the zone's. */
  timeZone: string;
  onCallGroups: string[];
  outsideApproval?: { approverGroups: string[]; approvals: 1 | 2 };
}

export interface Role {
  name: string;
  description?: string;
  /** Identity groups allowed to use this role (any one suffices). */
  groups: string[];
  /** Principals the role may grant; a request may ask for a subset. */
  principals: string[];
  /** Longest certificate lifetime, seconds. */
  maxTtlSeconds: number;
  /** Lifetime when the request names none, seconds (<= maxTtlSeconds). */
  defaultTtlSeconds: number;
  /** What happens when a request asks for more than maxTtlSeconds. */
  ttlOverMax: 'cap' | 'deny';
  /** Allowed scope values; "*" allows any value. pods/nodes absent means the role grants none. */
  scope: { clusters: string[]; namespaces: string[]; pods?: string[]; nodes?: string[] };
  /**
   * Commands the holder may run through the gateway (extension commands@jitca.dev). Absent means
   * the role does not restrict commands; present means a request must ask a non-empty subset.
   */
  commands?: string[];
  /** When set, written as the force-command critical option; sshd runs only this. */
  forceCommand?: string;
  /** CIDR list written as the source-address critical option. Requests may narrow it. */
  sourceAddresses?: string[];
  /** Extensions granted; anything not listed is absent from the certificate. */
  extensions: SshExtensionName[];
  /** verify-required critical option: FIDO keys must do user verification (PIN/biometric). */
  verifyRequired?: boolean;
  approval: ApprovalRule;
  /** May the SSH gateway request on behalf of an engineer for this role? */
  allowGateway?: boolean;
  /** Kubernetes client certificates (CertificateSigningRequests) this role may be issued; absent: none. */
  kubernetes?: RoleKubernetes;
  /** What the certified key must be: enrolled, attested, and the hardware properties (key-requirements.ts). */
  key?: KeyRequirements;
  /**
   * The operations the role grants (the approval matrix). Absent: the role predates the matrix and
   * is decided by `approval` and `maxTtlSeconds` alone, with no operations in the certificate.
   */
  operations?: OperationGrant[];
  workingHours?: WorkingHours;
}

/**
 * A role's requirements on the key (any one of them implies `enrolled`). The PIV ones read the
 * attestation's policy extension, the FIDO one its authenticator-data flags.
 */
export interface KeyRequirements {
  /** The key must be enrolled by the requester (a plain software key suffices). */
  enrolled?: boolean;
  /** Its enrollment must be attested by this kind of hardware. */
  attested?: 'piv' | 'fido' | 'either';
  /** PIV: the slot's PIN policy at least this (never < once < always; Bio match-* count as once/always). */
  minPinPolicy?: 'once' | 'always';
  /** PIV: the slot's touch policy at least this (never < cached < always). */
  minTouchPolicy?: 'cached' | 'always';
  /** FIDO: the key was made with user verification (UV flag); also writes verify-required. */
  userVerification?: boolean;
  /** The attested firmware at least this "major.minor.patch". */
  minFirmware?: string;
  /** Subjects of the attestation roots accepted; absent: any root the CA trusts. */
  roots?: string[];
}

/** What the enrollment of a key established (the enrollment record's facts, policy's view of them). */
export interface KeyEnrollmentFacts {
  kind: 'software' | 'piv' | 'fido';
  attested: boolean;
  root?: string;
  firmware?: string;
  pinPolicy?: string;
  touchPolicy?: string;
  flags?: { up: boolean; uv: boolean };
}

/**
 * What a CSR from a member of the role may carry (src/policy/csr-evaluate.ts). Kubernetes takes the
 * user from the certificate's CN and the groups from its O values, so `groups` is the RBAC reach.
 */
export interface RoleKubernetes {
  /** O values this role may put in a client certificate, e.g. "jit:oncall:payments". Never "system:". */
  groups: string[];
  /** Longest certificate lifetime, seconds (default 1800; the apiserver's minimum is 600). */
  maxExpirationSeconds?: number;
  /** Allow the "key encipherment" usage (RSA key transport); default false. */
  allowKeyEncipherment?: boolean;
  /** CSR signerNames this role may be approved for; absent: every signer the controller handles. */
  signerNames?: string[];
}

export interface Policy {
  version: 1;
  /** Suffix of scope extensions, e.g. "jitca.dev" gives "scope-cluster@jitca.dev". */
  extensionDomain: string;
  roles: Role[];
  /** Groups whose members may revoke anyone's SSH certificate through the API (holders always may revoke their own). */
  revokerGroups?: string[];
  /** Groups whose members may list and remove anyone's enrolled keys (engineers always may their own). */
  keyAdminGroups?: string[];
}

/**
 * What policy needs to know about the key to be certified (from the parsed key, never from the
 * request body): a role may depend on the kind of key, e.g. verifyRequired.
 */
export interface SubjectKey {
  /** e.g. "ssh-ed25519", "sk-ssh-ed25519@openssh.com". */
  type: string;
  /** sk-* types: the private key lives on a FIDO authenticator (PROTOCOL.u2f). */
  isSecurityKey: boolean;
  /** The requester's enrollment of this key; absent when the key is not enrolled to them. */
  enrollment?: KeyEnrollmentFacts;
}

/** What the requester asks for; everything optional narrows the role, never widens it. */
export interface SshCertificateRequest {
  role?: string;
  principals?: string[];
  ttlSeconds?: number;
  scope?: Partial<Scope>;
  commands?: string[];
  sourceAddresses?: string[];
  /** Operations needed; absent: the least the role allows. */
  operations?: OperationName[];
  reason?: string;
}

/** What policy grants: exactly what goes into the certificate. */
export interface SshGrant {
  role: string;
  principals: string[];
  ttlSeconds: number;
  scope: Scope;
  commands?: string[];
  forceCommand?: string;
  sourceAddresses?: string[];
  extensions: SshExtensionName[];
  verifyRequired: boolean;
  /** The operations granted, when the role lists any (extension operations@<domain>). */
  operations?: OperationName[];
}

export type Decision =
  | { outcome: 'approve'; grant: SshGrant; notes: string[] }
  | { outcome: 'pending'; grant: SshGrant; approval: { approverGroups: string[]; approvals: 1 | 2 }; notes: string[] }
  | {
      outcome: 'deny';
      /** Stable rule name, e.g. "ttl.max", "role.groups", "scope.namespace". */
      rule: string;
      message: string;
    };
