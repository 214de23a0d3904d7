/**
 * What the store must do with enrolled keys, written once and run against every store
 * implementation (enrolled-keys.test.ts for SQLite, postgres-store.test.ts for PostgreSQL).
 */
import { expect } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import type { KeyEnrollmentEntry, Store } from '../../src/store/types.ts';
import { codeOfAsync } from '../support/error-codes.ts';

export function enrollment(id: string, owner: string, fingerprint: string, extra: Partial<KeyEnrollmentEntry['key']> = {}): KeyEnrollmentEntry {
  return {
    key: { id, owner, fingerprint, publicKey: `ssh-ed25519 AAAA${id}`, kind: 'software', attested: false, ...extra },
    event: { type: 'key.enrolled', actor: owner, data: { id, fingerprint } },
  };
}

export async function checkEnrolledKeys(store: Store): Promise<void> {
  const piv = enrollment('k2', 'alice', 'SHA256:piv', {
    kind: 'piv',
    attested: true,
    root: 'CN=Yubico PIV Root CA Serial 263751',
    serial: 12345678,
    firmware: '5.7.4',
    pinPolicy: 'once',
    touchPolicy: 'always',
    formFactor: { name: 'usb-c-keychain', fips: false, cspn: false },
  });
  const fido = enrollment('k3', 'bob', 'SHA256:fido', { kind: 'fido', attested: true, flags: { up: true, uv: false }, root: 'CN=Yubico U2F Root CA Serial 457200631' });
  const record = await store.recordKeyEnrollment(enrollment('k1', 'alice', 'SHA256:soft'));
  expect(record).toMatchObject({ type: 'key.enrolled', actor: 'alice' });
  await store.recordKeyEnrollment(piv);
  await store.recordKeyEnrollment(fido);

  // Round trip of every fact, in enrollment order; by owner; by id and fingerprint.
  const all = await store.listEnrolledKeys();
  expect(all.map((key) => key.id)).toEqual(['k1', 'k2', 'k3']);
  expect(all[1]).toEqual({ ...piv.key, enrolledAt: record.at });
  expect(all[2]).toEqual({ ...fido.key, enrolledAt: record.at });
  expect(all[0]).toEqual({ ...enrollment('k1', 'alice', 'SHA256:soft').key, enrolledAt: record.at });
  expect((await store.listEnrolledKeys({ owner: 'alice' })).map((key) => key.id)).toEqual(['k1', 'k2']);
  expect((await store.listEnrolledKeys({ owner: 'alice', limit: 1 })).map((key) => key.id)).toEqual(['k1']);
  expect((await store.findEnrolledKey({ fingerprint: 'SHA256:fido' }))?.owner).toBe('bob');
  expect((await store.findEnrolledKey({ id: 'k2' }))?.fingerprint).toBe('SHA256:piv');
  expect(await store.findEnrolledKey({ id: 'nope' })).toBeUndefined();

  // One key, one person: the same fingerprint again (anyone's) is refused and writes nothing.
  const auditBefore = (await store.listAudit()).length;
  expect(await codeOfAsync(store.recordKeyEnrollment(enrollment('k4', 'carol', 'SHA256:piv')))).toBe(ErrorCodes.KEY_ALREADY_ENROLLED);
  expect(await codeOfAsync(store.recordKeyEnrollment(enrollment('k5', 'carol', 'SHA256:x', { kind: 'tpm' as 'piv' })))).toBe(ErrorCodes.REQUEST_INVALID);
  // A removal naming the wrong owner, or a row that is gone, removes nothing and audits nothing.
  expect(await codeOfAsync(store.recordKeyRemoval({ id: 'k2', owner: 'bob', event: { type: 'key.removed', actor: 'bob', data: {} } }))).toBe(
    ErrorCodes.ENROLLED_KEY_NOT_FOUND,
  );
  expect((await store.listAudit()).length).toBe(auditBefore);
  expect(await store.listEnrolledKeys()).toHaveLength(3);

  const removed = await store.recordKeyRemoval({ id: 'k2', owner: 'alice', event: { type: 'key.removed', actor: 'secteam', subject: 'alice', data: { id: 'k2' } } });
  expect(removed).toMatchObject({ type: 'key.removed', actor: 'secteam', subject: 'alice' });
  expect((await store.listEnrolledKeys()).map((key) => key.id)).toEqual(['k1', 'k3']);
  expect(await codeOfAsync(store.recordKeyRemoval({ id: 'k2', owner: 'alice', event: { type: 'key.removed', actor: 'alice', data: {} } }))).toBe(
    ErrorCodes.ENROLLED_KEY_NOT_FOUND,
  );
  // Removed, the key may be enrolled again (by its new owner).
  await store.recordKeyEnrollment(enrollment('k6', 'carol', 'SHA256:piv'));
  expect((await store.verifyAudit()).ok).toBe(true);
}
