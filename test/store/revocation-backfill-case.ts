/** Migration 0008's backfill, checked the same way on SQLite (migrations.test.ts) and PostgreSQL (postgres-store.test.ts). */
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { expect } from 'vitest';
import { migrateToLatest, migrations } from '../../src/store/migrations.ts';
import type { StoreDb } from '../../src/store/schema.ts';
import { issuedEntry } from './store-fixtures.ts';

/** Brings an empty database to 0007, writes a revocation in the 0003 shape, migrates to the latest and checks its new columns. */
export async function checkRevocationBackfill(db: StoreDb): Promise<void> {
  const upTo7 = new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
  expect((await upTo7.migrateTo('0007_request_listing')).error).toBeUndefined();
  const certificate = issuedEntry('req-old-revoked').certificate;
  if (certificate === undefined) throw new Error('fixture has a certificate');
  await db.insertInto('requests').values({
    id: 'req-old-revoked', kind: 'ssh-user', requester: 'alice', role: null, state: 'issued', body: '{}', decision: '{}',
    created_at: '2025-03-01T12:00:00.000Z', expires_at: null, updated_at: '2025-03-01T12:00:00.000Z', version: 0,
  }).execute();
  await db.insertInto('certificates').values({
    serial: certificate.serial, kind: 'ssh-user', identity: 'alice', key_id: 'k', key_fingerprint: 'f', principals: '[]', scope: '{}',
    valid_after: certificate.validAfter, valid_before: certificate.validBefore, ca_key_id: 'ssh-user-ca/1', request_id: 'req-old-revoked',
    certificate: 'c', created_at: '2025-03-01T12:00:00.000Z',
  }).execute();
  for (const [seq, type] of [[1, 'ssh.issued'], [2, 'ssh.revoked'], [3, 'policy.loaded']] as const) {
    await db.insertInto('audit_log').values({
      seq, at: '2025-03-01T12:00:00.000Z', type, actor: 'alice', subject: null, request_id: type === 'policy.loaded' ? null : 'req-old-revoked', data: '{}', prev_hash: '', hash: '',
    }).execute();
  }
  // The 0003 shape: no KRL columns yet.
  await sql`insert into revocations (serial, revoked_at, revoked_by, reason) values (${certificate.serial}, '2025-03-01T12:05:00.000Z', 'bob', 'lost')`.execute(db);

  await migrateToLatest(db);
  const rows = await db.selectFrom('revocations').select(['serial', 'ca_key_id', 'valid_before', 'audit_seq']).execute();
  // PostgreSQL returns a bigint as a string.
  expect(rows.map((row) => ({ ...row, audit_seq: Number(row.audit_seq) }))).toEqual([
    { serial: certificate.serial, ca_key_id: 'ssh-user-ca/1', valid_before: certificate.validBefore, audit_seq: 2 },
  ]);
}
