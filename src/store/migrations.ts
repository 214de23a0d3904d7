/**
 * Schema migrations, kept in code (no migration folder to ship) and run by kysely's Migrator on
 * every open; the Migrator records applied names in kysely_migration, so re-running is a no-op.
 * Only portable column types (text, integer) and standard constraints are used.
 */
import { PostgresAdapter, sql } from 'kysely';
import type { Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Migration, MigrationProvider } from 'kysely/migration';
import type { DatabaseSchema } from './schema.ts';
import { toStoreError } from './store-errors.ts';

const initialSchema: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('requests')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('requester', 'text', (c) => c.notNull())
      .addColumn('role', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('decision', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addCheckConstraint(
        'requests_state_known',
        sql`state in ('pending', 'approved', 'issued', 'denied', 'expired')`,
      )
      .execute();
    await db.schema.createIndex('requests_state_idx').on('requests').column('state').execute();

    await db.schema
      .createTable('certificates')
      // Unsigned 64-bit serial as decimal text: SQLite integers are signed (PROTOCOL.certkeys
      // serial is uint64; RFC 5280 §4.1.2.2 serials are positive).
      .addColumn('serial', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('identity', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('key_fingerprint', 'text', (c) => c.notNull())
      .addColumn('principals', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('valid_after', 'text', (c) => c.notNull())
      .addColumn('valid_before', 'text', (c) => c.notNull())
      .addColumn('ca_key_id', 'text', (c) => c.notNull())
      .addColumn('request_id', 'text', (c) => c.notNull().references('requests.id'))
      .addColumn('certificate', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('certificates_request_id_idx').on('certificates').column('request_id').execute();
    await db.schema.createIndex('certificates_identity_idx').on('certificates').column('identity').execute();

    await db.schema
      .createTable('approvals')
      .addColumn('request_id', 'text', (c) => c.notNull().references('requests.id'))
      .addColumn('approver', 'text', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      // One approval per approver per request: N-of-M approval counts distinct people.
      .addUniqueConstraint('approvals_request_approver_unique', ['request_id', 'approver'])
      .execute();

    await db.schema
      .createTable('audit_log')
      // Assigned by the store (not autoincrement): seq is part of the hashed content.
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('subject', 'text')
      .addColumn('request_id', 'text')
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_log_request_id_idx').on('audit_log').column('request_id').execute();
  },
};

/**
 * requests.version: decisions on a request are made from what was read (its state, its
 * approvals) and written later; with several replicas another decision can land in between.
 * Each write bumps the version and a decision states the version it read (request-repository.ts).
 */
const requestVersion: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('requests').addColumn('version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  },
};

/** Certificates withdrawn before they expire: one row per serial, read into the SSH KRL. */
const revocations: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('revocations')
      .addColumn('serial', 'text', (c) => c.primaryKey().references('certificates.serial'))
      .addColumn('revoked_at', 'text', (c) => c.notNull())
      .addColumn('revoked_by', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .execute();
  },
};

/**
 * audit_log.seq as a 64-bit integer on PostgreSQL, where `integer` is 32-bit: the log must never
 * stop taking records (2^31 is about 68 years at one record a second, but 25 days at 1,000/s).
 * SQLite's integer primary key is already 64-bit. The type change rewrites the table once.
 */
const auditSeq64: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
    await sql`alter table audit_log alter column seq type bigint`.execute(db);
  },
};

/**
 * The CA keyring (rotation/ca-keyring.ts): each CA's generations and their states. Empty after
 * this migration; the keyring fills it from the keys in the token the first time it opens.
 */
const caGenerations: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('ca_generations')
      .addColumn('ca', 'text', (c) => c.notNull())
      .addColumn('generation', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('algorithm', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('activated_at', 'text')
      .addColumn('retiring_at', 'text')
      .addColumn('retired_at', 'text')
      .addPrimaryKeyConstraint('ca_generations_pk', ['ca', 'generation'])
      .addCheckConstraint('ca_generations_state_known', sql`state in ('next', 'active', 'retiring', 'retired')`)
      .execute();
  },
};

/**
 * An always-empty table for the readiness probe (store.probeWrite): a row written and deleted in
 * one transaction that must commit, so /readyz fails exactly when writes fail (full disk,
 * read-only file system) and touches no table a request reads.
 */
const writeProbe: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createTable('write_probe').addColumn('id', 'integer', (c) => c.primaryKey()).execute();
  },
};

/**
 * What approvers see of a request (GET /v1/requests): each approval's reason next to it (it was
 * only in the audit record's data), and the indexes the list reads by: the newest-first order with
 * its tie-breaker, and a person's own requests.
 */
const requestListing: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('approvals').addColumn('reason', 'text').execute();
    await db.schema.createIndex('requests_created_id_idx').on('requests').columns(['created_at', 'id']).execute();
    await db.schema.createIndex('requests_requester_idx').on('requests').columns(['requester', 'created_at']).execute();
  },
};

/**
 * Keys enrolled to people (src/enrollment): one row per fingerprint, so a key belongs to one
 * person; the owner index serves GET /v1/keys and the issuance lookup.
 */
const enrolledKeys: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('enrolled_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull().unique())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('attested', 'integer', (c) => c.notNull())
      .addColumn('root', 'text')
      .addColumn('serial', 'integer')
      .addColumn('firmware', 'text')
      .addColumn('pin_policy', 'text')
      .addColumn('touch_policy', 'text')
      .addColumn('form_factor', 'text')
      .addColumn('flag_up', 'integer')
      .addColumn('flag_uv', 'integer')
      .addColumn('enrolled_at', 'text', (c) => c.notNull())
      .addCheckConstraint('enrolled_keys_kind_known', sql`kind in ('software', 'piv', 'fido')`)
      .execute();
    await db.schema.createIndex('enrolled_keys_owner_idx').on('enrolled_keys').columns(['owner', 'enrolled_at']).execute();
  },
};

/**
 * Leader leases for the singleton jobs (src/ha/postgres-lease.ts), on PostgreSQL only: SQLite is
 * one replica, which leads by being alone. Times are timestamptz because the expiry is judged by
 * the database's clock in SQL, never by a replica's.
 */
const leaderLeases: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
    await sql`create table leader_leases (
      name text primary key,
      holder text not null,
      term bigint not null,
      transitions bigint not null,
      acquired_at timestamptz not null,
      renewed_at timestamptz not null,
      expires_at timestamptz not null
    )`.execute(db);
  },
};

/**
 * The last trust-sync report of each SSH host (issue 19): which CA fingerprints it has installed
 * and when it last fetched. Rotation readiness reads the hosts seen within its window, by
 * last_seen; the table is capped by config (hostReports.maxHosts), so it never grows without bound.
 */
const hostReports: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('host_reports')
      .addColumn('host', 'text', (c) => c.primaryKey())
      .addColumn('installed', 'text', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('last_seen', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('host_reports_last_seen_idx').on('host_reports').column('last_seen').execute();
  },
};

/**
 * What the KRL needs on the revocation row itself (issue 21): the signing CA generation, the
 * certificate's valid_before and the seq of the revocation's audit record, backfilled from the
 * certificates (and their `ssh.revoked` records). The KRL then reads only live revocations through
 * the index on valid_before instead of joining every revocation ever made with its certificate,
 * and a replica learns that the set changed from max(audit_seq) (indexed: one B-tree descent).
 * The NOT NULL defaults exist only so the columns can be added to a table that has rows.
 */
const revocationKrlColumns: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('revocations').addColumn('ca_key_id', 'text', (c) => c.notNull().defaultTo('')).execute();
    await db.schema.alterTable('revocations').addColumn('valid_before', 'text', (c) => c.notNull().defaultTo('')).execute();
    await db.schema.alterTable('revocations').addColumn('audit_seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
    await sql`update revocations set
        ca_key_id = (select c.ca_key_id from certificates c where c.serial = revocations.serial),
        valid_before = (select c.valid_before from certificates c where c.serial = revocations.serial),
        audit_seq = coalesce((select max(a.seq) from audit_log a, certificates c
          where c.serial = revocations.serial and a.request_id = c.request_id and a.type = 'ssh.revoked'), 0)`.execute(db);
    await db.schema.createIndex('revocations_valid_before_idx').on('revocations').column('valid_before').execute();
    await db.schema.createIndex('revocations_audit_seq_idx').on('revocations').column('audit_seq').execute();
  },
};

/**
 * The single rotator's lock (rotation/rotation-lock.ts): one row per lock name with its holder,
 * when the hold ends unless renewed, and a fencing number raised at each new hold. Every
 * generation write of a rotation step checks the number in its own transaction, so a holder that
 * paused past its expiry cannot act after another took over.
 */
const rotationLock: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('rotation_lock')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('holder', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('fence', 'integer', (c) => c.notNull())
      .execute();
    // Retirement reads each generation's last certificate: by CA key, latest expiry.
    await db.schema.createIndex('certificates_ca_key_valid_before_idx').on('certificates').columns(['ca_key_id', 'valid_before']).execute();
  },
};

/**
 * The notification outbox (issue 15): a row per committed audit record and configured sink,
 * inserted in the audit record's own transaction, so nothing is announced that was not committed
 * and nothing committed is lost. The delivery job reads due rows by (state, next_attempt_at).
 */
const notificationOutbox: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('notification_outbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('audit_seq', 'bigint', (c) => c.notNull())
      .addColumn('sink', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'text', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('sent_at', 'text')
      .addCheckConstraint('notification_outbox_state_known', sql`state in ('pending', 'sent', 'dead')`)
      .execute();
    await db.schema.createIndex('notification_outbox_due_idx').on('notification_outbox').columns(['state', 'next_attempt_at']).execute();
  },
};

/**
 * The audit log's checkpoints (issue 21): one row per truncation, naming the last record removed
 * (seq and hash: the next record's prevHash) and the SHA-256 of the archive that holds the removed
 * records. The newest row is where the chain in the database now starts; the truncation's own
 * audit record names the same three values, so a row edited or added behind jitca's back does not
 * verify (audit-checkpoint.ts).
 */
const auditCheckpoints: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('audit_checkpoints')
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('archive_sha256', 'text', (c) => c.notNull())
      .addColumn('archive_file', 'text', (c) => c.notNull())
      .addColumn('truncated_at', 'text', (c) => c.notNull())
      .execute();
  },
};

/**
 * Local identities (issue 14, `jitca users`): one row per person, their groups (a JSON array) and
 * the one SSH key they log in with, unique by fingerprint so a key names one person. And the
 * challenges a login signs (src/authn/local-login.ts): single use (a row is deleted when spent),
 * short-lived, counted per name and per address. `purpose` says what a challenge is for ("login"),
 * so key enrollment's proof of possession can move onto the same table.
 */
const localIdentities: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('local_users')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('groups', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull().unique())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('added_by', 'text', (c) => c.notNull())
      .addColumn('added_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('auth_challenges')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('auth_challenges_expires_at_idx').on('auth_challenges').column('expires_at').execute();
    await db.schema.createIndex('auth_challenges_name_idx').on('auth_challenges').columns(['purpose', 'name']).execute();
    await db.schema.createIndex('auth_challenges_address_idx').on('auth_challenges').columns(['purpose', 'address']).execute();
  },
};

/**
 * audit_log_request_id_idx goes (issue 21): no statement reads the audit log by request id (the
 * log is read by seq: its head, export and verify, checkpoints), and migration 0008's one-time
 * backfill, the index's only reader, has run before this. It cost a B-tree write per audit record
 * and 51 bytes per certificate (bench/RESULTS.md, "Issue 21").
 */
const dropUnreadAuditIndex: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('audit_log_request_id_idx').ifExists().execute();
  },
};

/**
 * certificates_identity_idx had no reader either: certificates are found by serial, by request
 * and by CA key and expiry (KRL, active credentials), never by identity. It cost a B-tree write
 * per certificate, on one of a few dozen insertion points per commit (one per engineer), so a
 * dirty page of its own in most group commits (issue 16).
 */
const dropUnreadCertificateIdentityIndex: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('certificates_identity_idx').ifExists().execute();
  },
};

/** Names sort in application order (the Migrator applies them alphabetically). */
export const migrations: Readonly<Record<string, Migration>> = {
  '0001_initial_schema': initialSchema,
  '0002_request_version': requestVersion,
  '0003_revocations': revocations,
  '0004_audit_seq_64': auditSeq64,
  '0005_ca_generations': caGenerations,
  '0006_write_probe': writeProbe,
  '0007_request_listing': requestListing,
  '0008_revocation_krl_columns': revocationKrlColumns,
  '0009_rotation_lock': rotationLock,
  '0010_host_reports': hostReports,
  '0011_enrolled_keys': enrolledKeys,
  '0012_local_identities': localIdentities,
  '0013_notification_outbox': notificationOutbox,
  '0014_leader_leases': leaderLeases,
  '0015_audit_checkpoints': auditCheckpoints,
  '0016_drop_unread_audit_index': dropUnreadAuditIndex,
  '0017_drop_unread_certificate_identity_index': dropUnreadCertificateIdentityIndex,
};

const inCodeProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve({ ...migrations }),
};

/** Brings the schema to the latest version; safe to call on every open. */
export async function migrateToLatest(db: Kysely<DatabaseSchema>): Promise<void> {
  // Branches are given migration numbers ahead of time and land in any order: a database that
  // already ran a higher number (0014) must still take a lower one that lands later (0010).
  // Each migration creates or alters only its own objects, so the order between them is free.
  const migrator = new Migrator({ db, provider: inCodeProvider, allowUnorderedMigrations: true });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw toStoreError(error, 'migrating the store schema');
}
