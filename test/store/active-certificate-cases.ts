/**
 * What Store.countActiveCertificates must answer, written once and run against every store
 * implementation (active-certificates.test.ts for SQLite, postgres-store.test.ts for PostgreSQL).
 */
import { expect } from 'vitest';
import type { CaGeneration, Store } from '../../src/store/types.ts';
import { issuedEntry } from './store-fixtures.ts';

const generation = (number: number, state: CaGeneration['state']): CaGeneration => ({
  ca: 'ssh-user',
  generation: number,
  state,
  keyId: `ssh-user-ca/${number}`,
  algorithm: 'ed25519',
  publicKey: 'AAAA',
  createdAt: '2025-03-01T00:00:00.000Z',
});

async function issue(store: Store, requestId: string, changes: { scope: Record<string, unknown>; validBefore?: string; caKeyId?: string }): Promise<string> {
  const entry = issuedEntry(requestId);
  if (entry.certificate === undefined) throw new Error('fixture has a certificate');
  entry.certificate.scope = changes.scope;
  if (changes.validBefore !== undefined) entry.certificate.validBefore = changes.validBefore;
  if (changes.caKeyId !== undefined) entry.certificate.caKeyId = changes.caKeyId;
  await store.recordDecision(entry);
  return entry.certificate.serial;
}

/** Certificates valid now, not revoked, of a generation not retired: by kind, namespace and operation. */
export async function checkActiveCertificates(store: Store): Promise<void> {
  await store.recordCaGenerations({
    generations: [generation(1, 'active'), generation(2, 'retired')],
    event: { type: 'ca.generations', actor: 'test', data: {} },
  });
  const now = '2025-03-01T12:10:00.000Z';
  expect(await store.countActiveCertificates(now)).toEqual([]);
  await issue(store, 'req-a', { scope: { namespace: 'payments', operations: ['view-logs', 'exec'] } });
  await issue(store, 'req-b', { scope: { namespace: 'payments', operations: ['exec'] } });
  await issue(store, 'req-c', { scope: { cluster: 'prod' } });
  // Expired, revoked, and signed by a retired generation: none of them counts.
  await issue(store, 'req-expired', { scope: { namespace: 'payments', operations: ['exec'] }, validBefore: '2025-03-01T12:05:00.000Z' });
  const revoked = await issue(store, 'req-revoked', { scope: { namespace: 'payments', operations: ['exec'] } });
  await store.recordRevocation({
    serial: revoked,
    caKeyId: 'ssh-user-ca/1',
    validBefore: '2025-03-01T12:30:00.000Z',
    revokedBy: 'secteam-bob',
    reason: 'laptop lost',
    event: { type: 'ssh.revoked', actor: 'secteam-bob', data: { serial: revoked } },
  });
  await issue(store, 'req-retired', { scope: { namespace: 'payments', operations: ['exec'] }, caKeyId: 'ssh-user-ca/2' });

  const counts = await store.countActiveCertificates(now);
  const sorted = [...counts].sort((a, b) => `${a.namespace}/${a.operation}`.localeCompare(`${b.namespace}/${b.operation}`));
  expect(sorted).toEqual([
    { kind: 'ssh-user', namespace: '', operation: '', count: 1 },
    { kind: 'ssh-user', namespace: 'payments', operation: 'exec', count: 2 },
    { kind: 'ssh-user', namespace: 'payments', operation: 'view-logs', count: 1 },
  ]);
  // After every certificate's valid_before, none is active.
  expect(await store.countActiveCertificates('2025-03-01T12:30:00.000Z')).toEqual([]);
}
