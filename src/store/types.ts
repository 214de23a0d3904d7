/**
 * The store keeps issued certificates, requests and the tamper-evident audit chain. It sits behind
 * kysely so PostgreSQL can stand in for the embedded SQLite on multi-replica deployments.
 */

export type AuditEventType =
  | 'ssh.issued'
  | 'ssh.denied'
  /** A certificate withdrawn before it expires (it goes into the KRL sshd reads). */
  | 'ssh.revoked'
  | 'request.pending'
  | 'request.approved'
  | 'request.denied'
  | 'request.expired'
  /** A pending request nears the end of its approval window, not yet decided (announced once). */
  | 'request.expiring'
  | 'x509.issued'
  | 'x509.denied'
  /** Kubernetes CSR controller (src/k8s): a decision taken, a certificate written, signing given up. */
  | 'csr.approved'
  | 'csr.denied'
  | 'csr.signed'
  | 'csr.failed'
  | 'ca.created'
  | 'ca.rotated'
  /** The CA keyring's generation rows were written (first built from the keys in the token). */
  | 'ca.generations'
  /** serve or controller started deciding with this policy file (its SHA-256 and roles). */
  | 'policy.loaded'
  /** A policy reload refused its file (digest, error code, JSON path); the policy in force kept deciding. */
  | 'policy.refused'
  /** A replica started or stopped running the singleton jobs (src/ha: lease term and holder). */
  | 'ha.leader'
  /** A key was enrolled to a person (src/enrollment), or its enrollment removed. */
  | 'key.enrolled'
  | 'key.removed'
  /** A local identity was registered or removed (`jitca users`), or logged in (a session token issued). */
  | 'user.added'
  | 'user.removed'
  | 'user.session'
  /** The SSH gateway opened or closed a session for an SSH certificate (issue 18): command, end, recording hash. */
  | 'gateway.session.started'
  | 'gateway.session.ended'
  /** A retention run exported and removed the rows of requests long expired (never audit records). */
  | 'retention.pruned'
  /** A notification given up after its last delivery attempt (src/notify): which sink, which event. */
  | 'notification.dead'
  /** Audit records were written to an archive file by `audit export --archive` (its SHA-256, first and last record). */
  | 'audit.archived'
  /** Audit records through a checkpoint were removed, their archive named (`audit truncate`). */
  | 'audit.truncated';

export interface AuditEventInput {
  type: AuditEventType;
  /** Who caused the event (requester, approver, "system"). */
  actor: string;
  /** Whom it concerns (certificate holder), when not the actor. */
  subject?: string;
  requestId?: string;
  /** Event details: serial, principals, scope, rule names. Never secrets. */
  data: Record<string, unknown>;
}

export interface AuditRecord extends AuditEventInput {
  seq: number;
  /** ISO-8601 time the record was written (from the injected Clock). */
  at: string;
  prevHash: string;
  hash: string;
}

export interface IssuedCertificateInput {
  /** Unsigned 64-bit serial, decimal string (SQLite integers are signed). */
  serial: string;
  kind: 'ssh-user' | 'x509-client';
  identity: string;
  /** Certificate key ID (SSH) or subject (X.509). */
  keyId: string;
  /** SHA256:base64 fingerprint of the subject public key. */
  keyFingerprint: string;
  principals: string[];
  scope: Record<string, unknown>;
  validAfter: string;
  validBefore: string;
  /** Which CA key generation signed it, e.g. "ssh-user-ca/1". */
  caKeyId: string;
  requestId: string;
  /** The certificate as released (authorized_keys line or PEM). */
  certificate: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  records: number;
  /**
   * First broken link: the seq where the chain stops verifying and why. `anchor-mismatch`: the
   * record at an anchor's seq has another hash (the log was rewritten and re-hashed from there);
   * `truncated`: the chain ends before an anchor's seq (newest records were deleted), seq is the
   * first missing one. After a truncation (audit-checkpoint.ts): `checkpoint-unrecorded`, the
   * checkpoint the database starts from is not the one the newest `audit.truncated` record names
   * (seq: the checkpoint's); `archive-mismatch`, an `audit.truncated` record names an archive
   * other than the one given for its records (seq: that record's); `archive-unrecorded`, an
   * archive given that no `audit.archived` or `audit.truncated` record names (seq: its last).
   */
  firstBroken?: { seq: number; reason: AuditBreakReason };
}

export type AuditBreakReason =
  | 'hash-mismatch'
  | 'prev-hash-mismatch'
  | 'sequence-gap'
  | 'anchor-mismatch'
  | 'truncated'
  | 'checkpoint-unrecorded'
  | 'archive-mismatch'
  | 'archive-unrecorded';

/**
 * Where the audit chain in the database starts after `audit truncate`: the last record removed
 * (its seq, and its hash, which the first record kept chains to) and the archive holding the
 * records removed since the previous checkpoint.
 */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  archiveSha256: string;
  /** The archive's file name as given to `audit truncate` (where it was; a label, not a proof). */
  archiveFile: string;
  truncatedAt: string;
}

/**
 * Removes the audit records through `throughSeq` (the end of an archive) and writes the checkpoint
 * row and the truncation's audit record, in one transaction. `previousSeq` is the checkpoint the
 * archive continues from (0 for none): another truncation since -> ERR_STORE_CONFLICT, as is a
 * record at throughSeq that is missing or has another hash.
 */
export interface AuditTruncationEntry {
  previousSeq: number;
  throughSeq: number;
  throughHash: string;
  archiveSha256: string;
  archiveFile: string;
  event: AuditEventInput;
}

/**
 * A (seq, hash) pair seen outside the database: in serve's logs, a ticket, a cron job's output.
 * The chain alone cannot show that its newest records were deleted, or that someone with write
 * access rewrote a record and re-hashed everything after it; a record that must still be there
 * with this hash can.
 */
export interface AuditAnchor {
  seq: number;
  hash: string;
}

export type CertificateKind = IssuedCertificateInput['kind'];

/** Lifecycle of a certificate request; "issued", "denied" and "expired" are final. */
export type RequestState = 'pending' | 'approved' | 'issued' | 'denied' | 'expired';

export interface RequestInput {
  id: string;
  kind: CertificateKind;
  requester: string;
  role?: string;
  state: RequestState;
  /** What was asked for (principals, ttl, reason). Never secrets. */
  body: Record<string, unknown>;
  /** The policy Decision as carried out (outcome, reasons, rule names). */
  decision: Record<string, unknown>;
  /** ISO-8601. */
  createdAt: string;
  /** ISO-8601; when a pending request stops being approvable. */
  expiresAt?: string;
  /**
   * The StoredRequest.version this decision was made from. When given, the write fails with
   * ERR_REQUEST_CHANGED (and records nothing) if the request has changed since: a decision made
   * on what another replica or approver has already overtaken must be made again.
   */
  expectedVersion?: number;
}

export interface StoredRequest extends Omit<RequestInput, 'expectedVersion'> {
  /** ISO-8601 time of the last recordDecision for this request (from the injected Clock). */
  updatedAt: string;
  /** 0 when first recorded, +1 with each later decision; pass it back as expectedVersion. */
  version: number;
}

/** Live certificates of one kind, namespace and operation (active-certificates.ts). */
export interface ActiveCertificateCount {
  kind: string;
  namespace: string;
  operation: string;
  count: number;
}

export interface StoredCertificate extends IssuedCertificateInput {
  /** ISO-8601 time the certificate row was written (from the injected Clock). */
  createdAt: string;
}

/** Withdraws one issued certificate; recorded with its audit event in one transaction. */
export interface RevocationEntry {
  /** Decimal serial of a certificate in the store. */
  serial: string;
  /** The certificate's caKeyId and validBefore, as the store has them: what the KRL lists it by. */
  caKeyId: string;
  validBefore: string;
  revokedBy: string;
  reason: string;
  event: AuditEventInput;
}

/** The CAs jitca runs, each with its generations (rotation/ca-keyring.ts). */
export type CaKind = 'ssh-user' | 'kube-client';

/**
 * A generation's place in a rotation: `next` is published (trusted) before it signs, `active`
 * signs, `retiring` no longer signs but is still trusted while its certificates live, `retired`
 * is trusted by nobody.
 */
export type CaGenerationState = 'next' | 'active' | 'retiring' | 'retired';

/** One generation of a CA: its key in the key manager and where it stands. */
export interface CaGeneration {
  ca: CaKind;
  /** 1, 2, ...: the key's slot in the key manager is "<caName>/<generation>". */
  generation: number;
  state: CaGenerationState;
  /** The key reference: the key manager's slot name, recorded as caKeyId with every certificate. */
  keyId: string;
  /** Key algorithm name (ed25519, ecdsa-p256, ...). */
  algorithm: string;
  /** SubjectPublicKeyInfo DER, base64: what the generation's signatures verify with. */
  publicKey: string;
  createdAt: string;
  activatedAt?: string;
  retiringAt?: string;
  retiredAt?: string;
}

/** Generation rows written (inserted, or their state and dates updated) with one audit record. */
export interface CaGenerationsEntry {
  generations: CaGeneration[];
  event: AuditEventInput;
  /**
   * The rotation lock's fencing number the writer holds (rotation steps): the write commits only
   * while the lock still carries it, else ERR_ROTATION_LOCKED and nothing is written.
   */
  fence?: RotationFence;
}

export interface RotationFence {
  lock: string;
  holder: string;
  fence: number;
}

/** A request for the rotation lock: held by `holder` until `expiresAt` unless renewed. */
export interface RotationLockRequest {
  lock: string;
  holder: string;
  nowIso: string;
  expiresAtIso: string;
}

/** What an SSH host running trust-sync said at its last fetch (GET /v1/trust/bundle.json). */
export interface HostReport {
  /** The name the host gave (X-Jitca-Host): advisory, a host can lie about itself. */
  host: string;
  /** SHA256:... fingerprints of the SSH user CA keys it has installed, sorted. */
  installed: string[];
  /** The client address the server saw. */
  address: string;
  lastSeen: string;
}

/** What bounds the host_reports table: an unauthenticated caller can send reports. */
export interface HostReportLimits {
  /** Most distinct hosts kept; a new host beyond it is not recorded. */
  maxHosts: number;
  /** Rows last seen before this (ISO-8601) may be deleted to make room for a new host. */
  staleBeforeIso: string;
}

/** A revocation with what a revocation list needs of its certificate (only SSH user certificates are revoked). */
export interface StoredRevocation {
  serial: string;
  caKeyId: string;
  validBefore: string;
  revokedAt: string;
  revokedBy: string;
  reason: string;
}

/** A request past retention, with every row that goes with it: what a retention run exports, then removes. */
export interface RetiredRequest {
  request: StoredRequest;
  certificate?: StoredCertificate;
  approvals: StoredApproval[];
  revocation?: { revokedAt: string; revokedBy: string; reason: string };
}

/** Removes these requests' rows (request, certificate, approvals, revocation) with one audit record, in one transaction. */
export interface RetentionEntry {
  requestIds: string[];
  event: AuditEventInput;
}

export interface StoredApproval {
  requestId: string;
  approver: string;
  /** ISO-8601 time the approval was recorded (from the injected Clock). */
  at: string;
  /** Why the approver approved; absent for approvals recorded before the reason was kept here. */
  reason?: string;
}

/**
 * Whose requests a list may return: those `requester` made, or of one of `roles` (whoever made
 * them), never those `notRequester` made, and only of `onlyRoles` when set. The API builds it from
 * policy (policy/request-visibility.ts, the same rule GET /v1/requests/{id} applies).
 */
export interface RequestListScope {
  requester?: string;
  roles: readonly string[];
  notRequester?: string;
  onlyRoles?: readonly string[];
}

/** A request's place in the newest-first order of a list: where the next page starts after. */
export interface RequestListPosition {
  createdAt: string;
  id: string;
}

export interface RequestListQuery {
  /** States to return; at least one. */
  states: readonly RequestState[];
  scope: RequestListScope;
  /** Only requests strictly after this position (newest first: older, or as old with a smaller id). */
  after?: RequestListPosition;
  /** At most this many, 1..MAX_REQUEST_PAGE. */
  limit: number;
}

/** One decision carried out: written atomically (request + certificate/approval + audit record). */
export interface DecisionEntry {
  request: RequestInput;
  /** Present when a certificate was issued; request.state must then be "issued". */
  certificate?: IssuedCertificateInput;
  /** Present when an approver approved request.id; a second approval by the same approver conflicts. */
  approval?: { approver: string; reason?: string };
  /** event.requestId defaults to request.id and must equal it when given. */
  event: AuditEventInput;
}

/**
 * An enrolled key: bound to one person (its owner), with what its attestation proved. One row per
 * fingerprint: a key belongs to one person.
 */
export interface EnrolledKey {
  /** Random id the API names the enrollment by. */
  id: string;
  /** The authenticated subject who enrolled it. */
  owner: string;
  /** SHA256:base64 fingerprint of the key. */
  fingerprint: string;
  /** authorized_keys line, no comment. */
  publicKey: string;
  kind: EnrolledKeyKind;
  /** False for software keys and FIDO "none" attestations. */
  attested: boolean;
  /** Subject of the attestation root that verified it. */
  root?: string;
  /** Device serial (PIV). */
  serial?: number;
  firmware?: string;
  pinPolicy?: string;
  touchPolicy?: string;
  formFactor?: { name: string; fips: boolean; cspn: boolean };
  /** FIDO user presence / verification flags at generation. */
  flags?: { up: boolean; uv: boolean };
  /** ISO-8601; the store's clock at the write (ignored on input). */
  enrolledAt: string;
}

export type EnrolledKeyKind = 'software' | 'piv' | 'fido';

/** A key enrolled with its key.enrolled audit record, one transaction. */
export interface KeyEnrollmentEntry {
  key: Omit<EnrolledKey, 'enrolledAt'>;
  event: AuditEventInput;
}

/** An enrollment removed with its key.removed audit record, one transaction. */
export interface KeyRemovalEntry {
  id: string;
  /** The owner read with the row: the removal fails if the row is gone or now someone else's. */
  owner: string;
  event: AuditEventInput;
}

/**
 * What a notification says happened (src/notify): a request became pending, got an approval
 * that was not yet the last, was denied or expired, or a certificate was issued on approvals.
 */
export type NotificationKind = 'pending' | 'approved' | 'denied' | 'expired' | 'expiring' | 'issued';

/**
 * A configured notification sink as the store knows it: a name and the kinds it wants. Each
 * committed event of those kinds gets one outbox row per sink, in the audit record's transaction.
 */
export interface OutboxSink {
  name: string;
  kinds: readonly NotificationKind[];
  /** Only requests of these roles (e.g. a team's channel); absent: every role. */
  roles?: readonly string[];
  /** Only requests one of these groups may approve (the approvers' channel); absent: any. */
  approverGroups?: readonly string[];
}

/**
 * The leader lease term a singleton job acts under (the shape of src/ha's LeaderTerm): a write
 * carrying it commits only while that term still holds the lease (PostgreSQL only; a SQLite store
 * is one replica and takes none).
 */
export interface LeaderFence {
  name: string;
  holder: string;
  term: number;
}

/** Take due outbox rows for delivery: each taken row's next attempt moves to claimUntilIso. */
export interface NotificationClaim {
  nowIso: string;
  /** A sender that dies mid-delivery leaves its rows to be taken again after this. */
  claimUntilIso: string;
  /** At most this many rows, 1..1000. */
  limit: number;
  /** Sent rows older than this are deleted in the same transaction (bounded retention). */
  pruneSentBeforeIso: string;
  leader?: LeaderFence;
}

/** An outbox row taken for delivery, with the audit record it announces. */
export interface ClaimedNotification {
  /** `<audit seq>:<sink>`: stable, so it is also what the receiver deduplicates on. */
  id: string;
  sink: string;
  kind: NotificationKind;
  /** This delivery's number, from 1; a settlement names it so a stale one changes nothing. */
  attempt: number;
  createdAt: string;
  record: AuditRecord;
}

/** The outcome of one delivery attempt: sent, or to be tried again at nextAttemptIso. */
export type NotificationSettlement =
  | { id: string; attempt: number; outcome: 'sent'; atIso: string; leader?: LeaderFence }
  | { id: string; attempt: number; outcome: 'retry'; nextAttemptIso: string; error: string; leader?: LeaderFence };

/** A notification given up: the row marked dead with its audit record, one transaction. */
export interface NotificationDeadEntry {
  id: string;
  attempt: number;
  error: string;
  leader?: LeaderFence;
  event: AuditEventInput;
}

export interface NotificationBacklog {
  /** Rows not yet sent nor given up. */
  pending: number;
  dead: number;
  /** created_at of the oldest pending row. */
  oldestPendingAt?: string;
}

/** A person registered with `jitca users add`: their groups and the one key they log in with. */
export interface LocalUser {
  /** src/authn/local-identity-names.ts rules; the session's subject. */
  name: string;
  /** Sorted, de-duplicated. */
  groups: string[];
  /** SHA256:base64 fingerprint of the login key: unique, a key names one person. */
  fingerprint: string;
  /** authorized_keys line of the login key, no comment. */
  publicKey: string;
  /** Who registered them (the operator's account on the CA host). */
  addedBy: string;
  /** ISO-8601; the store's clock at the write (ignored on input). */
  addedAt: string;
}

/** A local user registered with its user.added audit record, one transaction. */
export interface LocalUserEntry {
  user: Omit<LocalUser, 'addedAt'>;
  event: AuditEventInput;
}

/** A local user removed with its user.removed audit record, one transaction. */
export interface LocalUserRemovalEntry {
  name: string;
  event: AuditEventInput;
}

/** A challenge to be signed: its id is the random value itself (what the client signs). */
export interface AuthChallenge {
  id: string;
  /** What it proves, e.g. "login"; a challenge spent for one purpose never serves another. */
  purpose: string;
  /** The name it was issued for. */
  name: string;
  /** The client address that asked. */
  address: string;
  expiresAt: string;
}

export interface AuthChallengeLimits {
  /** Unspent, unexpired challenges of one purpose per name and per address. */
  perName: number;
  /**
   * Absent: no bound per address. An authenticated caller's name is their own (enrollment), and
   * people behind one NAT address must not share a bound; an anonymous one's is not (login).
   */
  perAddress?: number;
  /**
   * At perName: 'refuse' answers name-full (login: the name is anyone's to ask for); 'replace-oldest'
   * deletes the name's oldest to make room (enrollment: only the person asks for their own, and a
   * client that gave up on a few must not lock its owner out). Default 'refuse'.
   */
  whenNameFull?: 'refuse' | 'replace-oldest';
  /** Rows that expired at or before this are deleted first. */
  nowIso: string;
}

export interface ListAuditOptions {
  /** Return records with seq > afterSeq (default 0: from the start). */
  afterSeq?: number;
  /** At most this many records, 1..10000 (default 1000). */
  limit?: number;
}

export interface StoreStats {
  /** Transactions committed by the group committer (one per batch). */
  commits: number;
  /** Batches rolled back as a whole because the database failed. */
  rollbacks: number;
  /** Entries (decisions and audit events) made durable. */
  entriesCommitted: number;
  /** Largest number of entries that shared one transaction. */
  largestBatch: number;
}

export interface Store {
  /**
   * Writes the request row (insert or update), the optional certificate/approval row and one audit
   * record in one transaction; resolves only after COMMIT. A certificate must not be released
   * before this resolves. Duplicate serial or approval -> ERR_STORE_CONFLICT (nothing written);
   * database fault -> ERR_STORE_UNAVAILABLE, retryable.
   */
  recordDecision(entry: DecisionEntry): Promise<AuditRecord>;
  appendAudit(event: AuditEventInput): Promise<AuditRecord>;
  /** Durable with its audit record before it resolves. Revoking a serial twice -> ERR_STORE_CONFLICT. */
  recordRevocation(entry: RevocationEntry): Promise<AuditRecord>;
  /** Writes generation rows (new ones inserted, existing ones' state and dates updated) and the audit record in one transaction. */
  recordCaGenerations(entry: CaGenerationsEntry): Promise<AuditRecord>;
  /**
   * Writes the enrolled key and its audit record in one transaction. A fingerprint already
   * enrolled (by anyone) -> ERR_KEY_ALREADY_ENROLLED, nothing written.
   */
  recordKeyEnrollment(entry: KeyEnrollmentEntry): Promise<AuditRecord>;
  /** Deletes the enrollment and writes its audit record in one transaction; no such row for that owner -> ERR_ENROLLED_KEY_NOT_FOUND, nothing written. */
  recordKeyRemoval(entry: KeyRemovalEntry): Promise<AuditRecord>;
  /** Enrolled keys, oldest first; only `owner`'s when given. At most `limit` (1..1000, default 1000). */
  listEnrolledKeys(options?: { owner?: string; limit?: number }): Promise<EnrolledKey[]>;
  /** The enrollment with this id or fingerprint, whoever owns it. */
  findEnrolledKey(by: { id: string } | { fingerprint: string }): Promise<EnrolledKey | undefined>;
  /**
   * Writes the local user and its audit record in one transaction. A name or a key fingerprint
   * already registered -> ERR_LOCAL_USER_CONFLICT, nothing written.
   */
  recordLocalUser(entry: LocalUserEntry): Promise<AuditRecord>;
  /** Deletes the user and writes its audit record in one transaction; no such user -> ERR_LOCAL_USER_NOT_FOUND, nothing written. */
  recordLocalUserRemoval(entry: LocalUserRemovalEntry): Promise<AuditRecord>;
  /** Local users by name (at most 10000). */
  listLocalUsers(): Promise<LocalUser[]>;
  findLocalUser(name: string): Promise<LocalUser | undefined>;
  /**
   * Records an unspent challenge (no audit record: a challenge decides nothing) after deleting
   * expired ones, unless its name or address already holds the limit of unexpired ones: then
   * 'name-full' or 'address-full' and nothing is written. With PostgreSQL two replicas can each
   * see room for one more, so a limit can be passed by at most the number of replicas.
   */
  issueAuthChallenge(challenge: AuthChallenge, limits: AuthChallengeLimits): Promise<'issued' | 'name-full' | 'address-full'>;
  /**
   * Spends a challenge: deletes the row with this id and purpose (and, when `name` is given, issued
   * to that name: someone else's attempt spends nothing) and returns it (expired or not: the caller
   * judges the time), or undefined when there is none. One DELETE ... RETURNING, so of two
   * concurrent spends only one gets the row.
   */
  consumeAuthChallenge(id: string, purpose: string, name?: string): Promise<AuthChallenge | undefined>;
  /** Every CA generation, by CA then generation. */
  listCaGenerations(): Promise<CaGeneration[]>;
  /**
   * Inserts or updates the host's row (no audit record: a report is an observation, not a
   * decision). A host not yet recorded when maxHosts rows exist is not written, after rows older
   * than staleBeforeIso were removed to make room: 'full'.
   */
  recordHostReport(report: HostReport, limits: HostReportLimits): Promise<'recorded' | 'full'>;
  /** Hosts last seen at or after `sinceIso`, by host name. */
  listHostReports(sinceIso: string): Promise<HostReport[]>;
  /**
   * Takes (or renews, for its holder) the named lock when it is free or expired, raising its
   * fencing number on every new hold; one atomic statement on SQLite and PostgreSQL. Undefined
   * when another holder's hold has not expired.
   */
  acquireRotationLock(request: RotationLockRequest): Promise<RotationFence | undefined>;
  /**
   * Ends the hold if `fence` still holds it: free for anyone at once, whatever their clock says (a
   * clock stepped back must not keep the lock held); a lost hold is left as it is.
   */
  releaseRotationLock(fence: RotationFence): Promise<void>;
  /** The latest valid_before of the certificates signed with this CA key, undefined when none. */
  lastValidBefore(caKeyId: string): Promise<string | undefined>;
  /** Revoked certificates still valid at `validAtIso` (expired ones need no revocation), by serial. */
  listRevocations(validAtIso: string): Promise<StoredRevocation[]>;
  /** One certificate's revocation, expired or not (what its holder sees); undefined when it was never revoked. ERR_REQUEST_INVALID for a malformed serial. */
  findRevocation(serial: string): Promise<StoredRevocation | undefined>;
  /**
   * A number that rises whenever a revocation is recorded (by this process or another replica):
   * a cheap "is my KRL still current" (0 with no revocations).
   */
  revocationsRevision(): Promise<number>;
  getRequest(id: string): Promise<StoredRequest | undefined>;
  /**
   * Requests created before `beforeIso` whose certificate (if any) expired before it too, oldest
   * first, at most `limit` (1..1000), each with its certificate, approvals and revocation.
   */
  listRetired(beforeIso: string, limit: number): Promise<RetiredRequest[]>;
  /** Removes the requests' rows and writes the audit record in one transaction; an id already gone is no error. */
  recordRetention(entry: RetentionEntry): Promise<AuditRecord>;
  findCertificateBySerial(serial: string): Promise<StoredCertificate | undefined>;
  /** Certificates valid at `nowIso` and not revoked, counted by kind, namespace and operation. */
  countActiveCertificates(nowIso: string): Promise<ActiveCertificateCount[]>;
  listApprovals(requestId: string): Promise<StoredApproval[]>;
  /**
   * Requests in the query's states and scope, newest first by (createdAt, id), a page at a time:
   * pass the last one's position as `after` for the next page, which then neither repeats nor
   * skips a request whatever was written meanwhile (createdAt and id never change). A scope
   * matching nobody returns []. Bad input (no state, limit out of range, a malformed position)
   * -> ERR_REQUEST_INVALID; database fault -> ERR_STORE_UNAVAILABLE.
   */
  listRequests(query: RequestListQuery): Promise<StoredRequest[]>;
  /**
   * Takes up to claim.limit due outbox rows (pending, next attempt at or before now), oldest
   * first, raising each one's attempt and moving its next attempt to claimUntilIso, and prunes
   * old sent rows, in one transaction. With claim.leader, only while that term holds the lease:
   * otherwise ERR_LEADER_FENCED and nothing changes.
   */
  claimNotifications(claim: NotificationClaim): Promise<ClaimedNotification[]>;
  /**
   * Records one attempt's outcome; false (nothing written) when the row is no longer at that
   * attempt or no longer pending. With a leader fence, ERR_LEADER_FENCED once the term is gone.
   */
  settleNotification(settlement: NotificationSettlement): Promise<boolean>;
  /**
   * Marks the row dead and writes its audit record in one transaction; ERR_STORE_CONFLICT when
   * the row is not pending at that attempt, ERR_LEADER_FENCED when the leader term is gone.
   */
  recordNotificationDead(entry: NotificationDeadEntry): Promise<AuditRecord>;
  /** Counts for /metrics: the outbox rows waiting and given up. */
  notificationBacklog(): Promise<NotificationBacklog>;
  /** Number of requests currently in `state`. */
  countRequests(state: RequestState): Promise<number>;
  /** Pending requests whose expiresAt is at or before `beforeIso` (ISO-8601), oldest first. */
  listOverduePending(beforeIso: string, limit?: number): Promise<StoredRequest[]>;
  listAudit(options?: ListAuditOptions): Promise<AuditRecord[]>;
  /**
   * Recomputes the hash chain from the newest checkpoint (seq 1 if none), which the newest
   * `audit.truncated` record must name; every anchor must be a record of it, with that hash.
   */
  verifyAudit(anchors?: readonly AuditAnchor[]): Promise<AuditVerifyResult>;
  /** The newest audit record's seq and hash, undefined while the log is empty. */
  auditHead(): Promise<AuditAnchor | undefined>;
  /** The newest checkpoint (where the chain in the database starts), undefined if never truncated. */
  auditCheckpoint(): Promise<AuditCheckpoint | undefined>;
  /** See AuditTruncationEntry; resolves after COMMIT with the truncation's audit record. */
  recordAuditTruncation(entry: AuditTruncationEntry): Promise<AuditRecord>;
  /**
   * Readiness: writes and deletes a row of an always-empty table in one transaction and waits for
   * its COMMIT, so it fails exactly when a request's write would (full disk, read-only database,
   * files gone) and changes nothing. A failure is ERR_STORE_UNAVAILABLE.
   */
  probeWrite(): Promise<void>;
  stats(): StoreStats;
  /**
   * The V8 heap of the store's own thread (SQLite runs in a worker thread with its own isolate,
   * which the process's heap metrics do not include); undefined for stores without one.
   */
  threadHeap(): Promise<{ usedBytes: number; totalBytes: number } | undefined>;
  /** Waits for queued writes to commit, then closes the database. */
  close(): Promise<void>;
}
