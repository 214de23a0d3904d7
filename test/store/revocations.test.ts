import { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openSqliteDatabase } from '../../src/store/database.ts';
import { liveRevocationsQuery } from '../../src/store/revocation-repository.ts';
import { ErrorCodes } from '../../src/errors.ts';
import type { RevocationEntry, Store } from '../../src/store/types.ts';
import { codeOfAsync } from '../support/error-codes.ts';
import { issuedEntry, tempStorePerTest } from './store-fixtures.ts';

const openStore = tempStorePerTest();

function revocation(serial: string, reason = 'laptop lost', validBefore = '2025-03-01T13:00:00.000Z'): RevocationEntry {
  return { serial, caKeyId: 'ssh-user-ca/1', validBefore, revokedBy: 'secteam-bob', reason, event: { type: 'ssh.revoked', actor: 'secteam-bob', subject: 'alice@example.com', data: { serial } } };
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
    await store.recordRevocation(revocation(expired, 'left the company', '2025-03-01T12:10:00.000Z'));

    expect(await store.listRevocations('2025-03-01T12:20:00.000Z')).toEqual([
      {
        serial: live,
        caKeyId: 'ssh-user-ca/1',
        validBefore: '2025-03-01T13:00:00.000Z',
        revokedAt: '2025-03-01T12:01:00.000Z',
        revokedBy: 'secteam-bob',
        reason: 'laptop lost',
      },
    ]);
    expect((await store.listRevocations('2025-03-01T12:05:00.000Z')).map((entry) => entry.serial).sort()).toEqual([live, expired].sort());
    // One certificate's revocation is found expired or not (its holder's view of the request); none for one never revoked.
    expect(await store.findRevocation(expired)).toMatchObject({ serial: expired, revokedBy: 'secteam-bob', reason: 'left the company' });
    const unrevoked = await issue(store, 'req-kept', '2025-03-01T13:00:00.000Z');
    expect(await store.findRevocation(unrevoked)).toBeUndefined();
    expect(await codeOfAsync(store.findRevocation('0123'))).toBe(ErrorCodes.REQUEST_INVALID);
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

describe('the KRL read (issue 21)', () => {
  it('reads only live revocations, through the index on valid_before, without touching certificates', async () => {
    const { store, dbPath } = await openStore();
    const serial = await issue(store, 'req-plan', '2025-03-01T13:00:00.000Z');
    await store.recordRevocation(revocation(serial));
    await store.close();
    const db = openSqliteDatabase(dbPath);
    try {
      const query = liveRevocationsQuery(db, '2025-03-01T12:00:00.000Z').compile();
      const plan = (await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]))).rows.map((row) => row.detail);
      expect(plan.join('\n')).toMatch(/SEARCH revocations USING INDEX revocations_valid_before_idx \(valid_before>\?\)/);
      expect(plan.join('\n')).not.toMatch(/certificates/);
    } finally {
      await db.destroy();
    }
  });

  it('the revision rises with each revocation recorded', async () => {
    const { store } = await openStore();
    expect(await store.revocationsRevision()).toBe(0);
    const first = await issue(store, 'req-r1', '2025-03-01T13:00:00.000Z');
    const second = await issue(store, 'req-r2', '2025-03-01T13:00:00.000Z');
    const firstRecord = await store.recordRevocation(revocation(first));
    expect(await store.revocationsRevision()).toBe(firstRecord.seq);
    await store.appendAudit({ type: 'policy.loaded', actor: 'system', data: {} });
    expect(await store.revocationsRevision()).toBe(firstRecord.seq);
    const secondRecord = await store.recordRevocation(revocation(second));
    expect(await store.revocationsRevision()).toBe(secondRecord.seq);
  });
});
