import Database from 'better-sqlite3';
import { sql } from 'kysely';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase } from '../../src/store/database.ts';
import { Migrator } from 'kysely/migration';
import { migrateToLatest, migrations } from '../../src/store/migrations.ts';
import { checkRevocationBackfill } from './revocation-backfill-case.ts';
import { issuedEntry, makeTempDir, openTempStore, removeDir } from './store-fixtures.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

describe('schema migrations', () => {
  it('opening the same file twice applies the schema once and keeps the data', async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const first = await openTempStore(dir);
    await first.store.recordDecision(issuedEntry('req-keep'));
    await first.store.close();

    const second = await openTempStore(dir);
    expect((await second.store.getRequest('req-keep'))?.state).toBe('issued');
    const next = await second.store.appendAudit({ type: 'ca.rotated', actor: 'system', data: { to: 'ssh-user-ca/2' } });
    expect(next.seq).toBe(2);
    expect(await second.store.verifyAudit()).toEqual({ ok: true, records: 2 });
    await second.store.close();

    const raw = new Database(path.join(dir, 'jitca.db'), { readonly: true });
    try {
      const applied = raw.prepare('select name from kysely_migration').all();
      expect(applied).toEqual([{ name: '0001_initial_schema' }, { name: '0002_request_version' }, { name: '0003_revocations' }, { name: '0004_audit_seq_64' }, { name: '0005_ca_generations' }, { name: '0006_write_probe' }, { name: '0007_request_listing' }, { name: '0008_revocation_krl_columns' }, { name: '0009_rotation_lock' }, { name: '0010_host_reports' }, { name: '0011_enrolled_keys' }, { name: '0012_local_identities' }, { name: '0013_notification_outbox' }, { name: '0014_leader_leases' }, { name: '0015_audit_checkpoints' }, { name: '0016_drop_unread_audit_index' }, { name: '0017_drop_unread_certificate_identity_index' }]);
      // No statement reads the audit log by request id: that index only cost writes (migration 0016).
      expect(raw.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'audit_log'").all()).toEqual([]);
      // Nor certificates by identity (migration 0017); the indexes that remain each have a reader.
      expect(raw.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'certificates' and sql is not null order by name").all()).toEqual([
        { name: 'certificates_ca_key_valid_before_idx' },
        { name: 'certificates_request_id_idx' },
      ]);
      const tables = raw
        .prepare("select name from sqlite_master where type = 'table' and name not like 'kysely%' order by name")
        .all();
      expect(tables).toEqual([{ name: 'approvals' }, { name: 'audit_checkpoints' }, { name: 'audit_log' }, { name: 'auth_challenges' }, { name: 'ca_generations' }, { name: 'certificates' }, { name: 'enrolled_keys' }, { name: 'host_reports' }, { name: 'local_users' }, { name: 'notification_outbox' }, { name: 'requests' }, { name: 'revocations' }, { name: 'rotation_lock' }, { name: 'write_probe' }]);
    } finally {
      raw.close();
    }
  });

  it('a database that ran a higher-numbered migration first still takes one that lands later (0010 after 0014)', async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const db = openSqliteDatabase(path.join(dir, 'jitca.db'));
    try {
      const landedFirst = Object.fromEntries(Object.entries(migrations).filter(([name]) => name !== '0010_host_reports'));
      expect((await new Migrator({ db, provider: { getMigrations: () => Promise.resolve(landedFirst) } }).migrateToLatest()).error).toBeUndefined();
      await migrateToLatest(db);
      expect(await db.selectFrom('host_reports').selectAll().execute()).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it('running the migrator again on an open database changes nothing', async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const db = openSqliteDatabase(path.join(dir, 'jitca.db'));
    try {
      await migrateToLatest(db);
      await migrateToLatest(db);
      const rows = await db.selectFrom('requests').selectAll().execute();
      expect(rows).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it('opens the database in WAL mode with synchronous=FULL and foreign keys on', async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const db = openSqliteDatabase(path.join(dir, 'jitca.db'), { busyTimeoutMs: 1234 });
    try {
      const pragma = async (name: string): Promise<unknown> => {
        const result = await sql<Record<string, unknown>>`${sql.raw(`pragma ${name}`)}`.execute(db);
        return Object.values(result.rows[0] ?? {})[0];
      };
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('synchronous')).toBe(2); // 2 = FULL
      expect(await pragma('foreign_keys')).toBe(1);
      expect(await pragma('busy_timeout')).toBe(1234);
    } finally {
      await db.destroy();
    }
  });
});

describe('0008: revocations carry what the KRL needs', () => {
  it('backfills ca_key_id, valid_before and audit_seq of existing revocations from their certificates and audit records', async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const db = openSqliteDatabase(path.join(dir, 'jitca.db'));
    try {
      await checkRevocationBackfill(db);
    } finally {
      await db.destroy();
    }
  });
});
