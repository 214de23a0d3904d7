/**
 * What the store must do with local users and auth challenges, written once and run against every
 * store implementation (local-identities.test.ts for SQLite, postgres-store.test.ts for PostgreSQL).
 */
import { expect } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import type { AuthChallenge, LocalUserEntry, Store } from '../../src/store/types.ts';
import { codeOfAsync } from '../support/error-codes.ts';

export function localUser(name: string, fingerprint: string, groups = ['sre']): LocalUserEntry {
  return {
    user: { name, groups, fingerprint, publicKey: `ssh-ed25519 AAAA${name}`, addedBy: 'local:root' },
    event: { type: 'user.added', actor: 'local:root', subject: name, data: { groups, fingerprint } },
  };
}

export async function checkLocalUsers(store: Store): Promise<void> {
  const record = await store.recordLocalUser(localUser('lena', 'SHA256:lena', ['oncall-payments', 'sre']));
  expect(record).toMatchObject({ type: 'user.added', actor: 'local:root', subject: 'lena' });
  await store.recordLocalUser(localUser('ada', 'SHA256:ada'));
  expect((await store.listLocalUsers()).map((user) => user.name)).toEqual(['ada', 'lena']);
  expect(await store.findLocalUser('lena')).toEqual({ ...localUser('lena', 'SHA256:lena', ['oncall-payments', 'sre']).user, addedAt: record.at });
  expect(await store.findLocalUser('nobody')).toBeUndefined();

  // A taken name or a taken key writes nothing, not even the audit record.
  const audited = (await store.listAudit()).length;
  expect(await codeOfAsync(store.recordLocalUser(localUser('lena', 'SHA256:other')))).toBe(ErrorCodes.LOCAL_USER_CONFLICT);
  expect(await codeOfAsync(store.recordLocalUser(localUser('eve', 'SHA256:lena')))).toBe(ErrorCodes.LOCAL_USER_CONFLICT);
  expect(await store.findLocalUser('eve')).toBeUndefined();
  expect((await store.listAudit()).length).toBe(audited);

  const removal = { name: 'lena', event: { type: 'user.removed' as const, actor: 'local:root', subject: 'lena', data: {} } };
  expect(await store.recordLocalUserRemoval(removal)).toMatchObject({ type: 'user.removed' });
  expect(await codeOfAsync(store.recordLocalUserRemoval(removal))).toBe(ErrorCodes.LOCAL_USER_NOT_FOUND);
  expect((await store.listLocalUsers()).map((user) => user.name)).toEqual(['ada']);
  expect((await store.verifyAudit()).ok).toBe(true);
}

export async function checkAuthChallenges(store: Store): Promise<void> {
  const now = '2026-01-01T00:00:00.000Z';
  const limits = { perName: 2, perAddress: 3, nowIso: now };
  const challenge = (id: string, name: string, address = '192.0.2.1', expiresAt = '2026-01-01T00:02:00.000Z'): AuthChallenge => ({
    id,
    purpose: 'login',
    name,
    address,
    expiresAt,
  });
  expect(await store.issueAuthChallenge(challenge('c1', 'lena'), limits)).toBe('issued');
  expect(await store.issueAuthChallenge(challenge('c2', 'lena'), limits)).toBe('issued');
  expect(await store.issueAuthChallenge(challenge('c3', 'lena'), limits)).toBe('name-full');
  expect(await store.issueAuthChallenge(challenge('c4', 'ada'), limits)).toBe('issued');
  expect(await store.issueAuthChallenge(challenge('c5', 'pat'), limits)).toBe('address-full');
  expect(await store.issueAuthChallenge(challenge('c6', 'pat', '192.0.2.2'), limits)).toBe('issued');

  // Single use, and only for its purpose.
  expect(await store.consumeAuthChallenge('c1', 'enroll')).toBeUndefined();
  expect(await store.consumeAuthChallenge('c1', 'login')).toEqual(challenge('c1', 'lena'));
  expect(await store.consumeAuthChallenge('c1', 'login')).toBeUndefined();
  const [first, second] = await Promise.all([store.consumeAuthChallenge('c2', 'login'), store.consumeAuthChallenge('c2', 'login')]);
  expect([first, second].filter((spent) => spent !== undefined)).toHaveLength(1);

  // Expired rows no longer count against the limits and are deleted.
  const later = { ...limits, nowIso: '2026-01-01T00:05:00.000Z' };
  expect(await store.issueAuthChallenge(challenge('c7', 'ada', '192.0.2.1', '2026-01-01T00:07:00.000Z'), later)).toBe('issued');
  expect(await store.consumeAuthChallenge('c4', 'login')).toBeUndefined();

  expect(await codeOfAsync(store.issueAuthChallenge(challenge('', 'lena'), limits))).toBe(ErrorCodes.REQUEST_INVALID);
}

/** Enrollment's use of the table: spent only by the name it was issued to, the oldest replaced, no address bound. */
export async function checkEnrollChallenges(store: Store): Promise<void> {
  const now = '2026-01-01T00:00:00.000Z';
  const limits = { perName: 2, whenNameFull: 'replace-oldest' as const, nowIso: now };
  const challenge = (id: string, name: string, expiresAt: string): AuthChallenge => ({ id, purpose: 'enroll', name, address: '192.0.2.9', expiresAt });
  const e1 = challenge('e1', 'dave', '2026-01-01T00:05:00.000Z');
  expect(await store.issueAuthChallenge(e1, limits)).toBe('issued');
  expect(await store.issueAuthChallenge(challenge('e2', 'dave', '2026-01-01T00:05:01.000Z'), limits)).toBe('issued');
  // Full: the oldest (e1) goes to make room, not the new one.
  expect(await store.issueAuthChallenge(challenge('e3', 'dave', '2026-01-01T00:05:02.000Z'), limits)).toBe('issued');
  // No address bound asked for: others behind the same address still get theirs.
  expect(await store.issueAuthChallenge(challenge('e4', 'alice', '2026-01-01T00:05:03.000Z'), limits)).toBe('issued');
  expect(await store.issueAuthChallenge(challenge('e5', 'pat', '2026-01-01T00:05:04.000Z'), limits)).toBe('issued');

  expect(await store.consumeAuthChallenge('e1', 'enroll', 'dave')).toBeUndefined();
  // Someone else's attempt spends nothing; its owner still can, once.
  expect(await store.consumeAuthChallenge('e2', 'enroll', 'alice')).toBeUndefined();
  expect(await store.consumeAuthChallenge('e2', 'enroll', 'dave')).toEqual(challenge('e2', 'dave', '2026-01-01T00:05:01.000Z'));
  expect(await store.consumeAuthChallenge('e2', 'enroll', 'dave')).toBeUndefined();
  expect(await store.consumeAuthChallenge('e3', 'enroll', 'dave')).toBeDefined();

  // A bound that refuses still refuses, and a refused issue replaces nothing.
  const refusing = { perName: 1, perAddress: 1, whenNameFull: 'replace-oldest' as const, nowIso: now };
  expect(await store.issueAuthChallenge(challenge('e6', 'pat', '2026-01-01T00:05:05.000Z'), refusing)).toBe('address-full');
  expect(await store.consumeAuthChallenge('e6', 'enroll', 'pat')).toBeUndefined();
  expect(await store.consumeAuthChallenge('e5', 'enroll', 'pat')).toBeDefined();
  expect(await store.consumeAuthChallenge('e4', 'enroll', 'alice')).toBeDefined();
  expect(await codeOfAsync(store.issueAuthChallenge(e1, { ...limits, whenNameFull: 'sometimes' as 'refuse' }))).toBe(ErrorCodes.REQUEST_INVALID);
}
