/**
 * Row types of the store's tables as kysely sees them. Columns use only types both SQLite and
 * PostgreSQL map the same way (text, integer): times are ISO-8601 text, JSON is text, and
 * serials are decimal text because SQLite integers are signed 64-bit and serials are unsigned.
 */
import type { Kysely } from 'kysely';
import type { RequestState } from './types.ts';

export interface CertificatesTable {
  serial: string;
  kind: string;
  identity: string;
  key_id: string;
  key_fingerprint: string;
  /** JSON array of strings. */
  principals: string;
  /** JSON object. */
  scope: string;
  valid_after: string;
  valid_before: string;
  ca_key_id: string;
  request_id: string;
  certificate: string;
  created_at: string;
}

export interface RequestsTable {
  id: string;
  kind: string;
  requester: string;
  role: string | null;
  state: RequestState;
  /** JSON object. */
  body: string;
  /** JSON object. */
  decision: string;
  created_at: string;
  expires_at: string | null;
  updated_at: string;
  /** 0 when inserted, +1 with every later decision: what a decision read is checked at its write. */
  version: number;
}

export interface RevocationsTable {
  serial: string;
  revoked_at: string;
  revoked_by: string;
  reason: string;
  /** The certificate's signing CA generation and valid_before, copied so the KRL needs no join (0008). */
  ca_key_id: string;
  valid_before: string;
  /** Seq of the revocation's `ssh.revoked` audit record: max() says whether the set changed. */
  audit_seq: number;
}

export interface ApprovalsTable {
  request_id: string;
  approver: string;
  at: string;
  /** Null for approvals recorded before migration 0007. */
  reason: string | null;
}

export interface AuditLogTable {
  seq: number;
  at: string;
  type: string;
  actor: string;
  subject: string | null;
  request_id: string | null;
  /** Canonical JSON object (see canonical-json.ts). */
  data: string;
  prev_hash: string;
  hash: string;
}

/** One row per truncation of the audit log (migration 0015); the newest is where the chain now starts. */
export interface AuditCheckpointsTable {
  /** The last record removed. */
  seq: number;
  /** Its hash: the prevHash of the first record kept. */
  hash: string;
  archive_sha256: string;
  archive_file: string;
  truncated_at: string;
}

export interface CaGenerationsTable {
  ca: string;
  generation: number;
  state: string;
  key_id: string;
  algorithm: string;
  /** SPKI DER, base64. */
  public_key: string;
  created_at: string;
  activated_at: string | null;
  retiring_at: string | null;
  retired_at: string | null;
}

/** One row per lock name (migration 0009): see rotation/rotation-lock.ts. */
export interface RotationLockTable {
  name: string;
  holder: string;
  expires_at: string;
  /** Raised by one at every new hold; a write made under an older number is refused. */
  fence: number;
}

/** Always empty: store.probeWrite writes and deletes its one row in a transaction. */
export interface WriteProbeTable {
  id: number;
}

export interface HostReportsTable {
  host: string;
  /** JSON array of the SHA256:... fingerprints the host reported installed, sorted. */
  installed: string;
  /** The address the report came from (what the server saw, not what the host claims). */
  address: string;
  last_seen: string;
}

/** Migration 0011: keys enrolled to people (src/enrollment). */
export interface EnrolledKeysTable {
  id: string;
  owner: string;
  fingerprint: string;
  public_key: string;
  kind: string;
  /** 0 or 1. */
  attested: number;
  root: string | null;
  serial: number | null;
  firmware: string | null;
  pin_policy: string | null;
  touch_policy: string | null;
  /** JSON object {name, fips, cspn}. */
  form_factor: string | null;
  /** 0 or 1; null for non-FIDO keys. */
  flag_up: number | null;
  flag_uv: number | null;
  enrolled_at: string;
}

/**
 * Migration 0013: notifications waiting to be delivered (src/notify), one row per committed audit
 * record and sink, written in the audit record's transaction.
 */
export interface NotificationOutboxTable {
  /** `<audit seq>:<sink>`. */
  id: string;
  audit_seq: number;
  sink: string;
  kind: string;
  /** pending, sent or dead. */
  state: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
}

/** Migration 0012: people registered with `jitca users add` (src/authn/local-users.ts). */
export interface LocalUsersTable {
  name: string;
  /** JSON array of group names, sorted. */
  groups: string;
  fingerprint: string;
  public_key: string;
  added_by: string;
  added_at: string;
}

/** Migration 0012: unspent challenges, purpose 'login' (src/authn/local-login.ts) or 'enroll' (src/enrollment/challenges.ts). */
export interface AuthChallengesTable {
  id: string;
  purpose: string;
  name: string;
  address: string;
  expires_at: string;
}

export interface DatabaseSchema {
  local_users: LocalUsersTable;
  auth_challenges: AuthChallengesTable;
  notification_outbox: NotificationOutboxTable;
  host_reports: HostReportsTable;
  enrolled_keys: EnrolledKeysTable;
  write_probe: WriteProbeTable;
  ca_generations: CaGenerationsTable;
  rotation_lock: RotationLockTable;
  certificates: CertificatesTable;
  requests: RequestsTable;
  approvals: ApprovalsTable;
  revocations: RevocationsTable;
  audit_log: AuditLogTable;
  audit_checkpoints: AuditCheckpointsTable;
}

/** A connection or a transaction: repositories accept either. */
export type StoreDb = Kysely<DatabaseSchema>;
