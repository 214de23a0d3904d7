import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import type { RevocationEntry, Store } from '../../src/store/types.ts';
import { codeOfAsync } from '../support/error-codes.ts';
import { issuedEntry, tempStorePerTest } from './store-fixtures.ts';

const openStore = tempStorePerTest();

function revocation(serial: string, reason = 'laptop lost'): RevocationEntry {
  return { serial, revokedBy: 'secteam-bob', reason, event: { type: 'ssh.revoked', actor: 'secteam-bob', subject: 'alice@example.com', data: { serial } } };
}

async function issue(store: Store, requestId: string, validBefore: string): Promise<string> {
  const entry = issuedEntry(requestId);
  if (entry.certificate === undefined) throw new Error('fixture has a certificate');
  entry.certificate.validBefore = validBefore;
  await store.recordDecision(entry);
  return entry.certificate.serial;
}

describe('revocations in the store', () => {
  it('records the revocation with its audit record, and lists only certificates not yet expired', async () => {
    const { store, clock } = await openStore();
    const live = await issue(store, 'req-live', '2025-03-01T13:00:00.000Z');
    const expired = await issue(store, 'req-old', '2025-03-01T12:10:00.000Z');
    clock.advance(60_000);
    const record = await store.recordRevocation(revocation(live));
    expect(record).toMatchObject({ type: 'ssh.revoked', actor: 'secteam-bob', at: '2025-03-01T12:01:00.000Z' });
    await store.recordRevocation(revocation(expired, 'left the company'));

    expect(await store.listRevocations('2025-03-01T12:20:00.000Z')).toEqual([
      {
        serial: live,
        kind: 'ssh-user',
        identity: 'alice@example.com',
        caKeyId: 'ssh-user-ca/1',
        validBefore: '2025-03-01T13:00:00.000Z',
        revokedAt: '2025-03-01T12:01:00.000Z',
        revokedBy: 'secteam-bob',
        reason: 'laptop lost',
      },
    ]);
    expect((await store.listRevocations('2025-03-01T12:05:00.000Z')).map((entry) => entry.serial).sort()).toEqual([live, expired].sort());
    expect((await store.verifyAudit()).ok).toBe(true);
  });

  it('a second revocation of one serial is ERR_STORE_CONFLICT; a malformed one is ERR_REQUEST_INVALID; neither writes anything', async () => {
    const { store } = await openStore();
    const serial = await issue(store, 'req-1', '2025-03-01T13:00:00.000Z');
    await store.recordRevocation(revocation(serial));
    const before = (await store.listAudit()).length;
    expect(await codeOfAsync(store.recordRevocation(revocation(serial)))).toBe(ErrorCodes.STORE_CONFLICT);
    expect(await codeOfAsync(store.recordRevocation(revocation('0123')))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(await codeOfAsync(store.recordRevocation({ ...revocation(serial), reason: '' }))).toBe(ErrorCodes.REQUEST_INVALID);
    expect((await store.listAudit()).length).toBe(before);
    expect(await store.listRevocations('2025-03-01T12:00:00.000Z')).toHaveLength(1);
  });
});
