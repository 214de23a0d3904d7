import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import type { Store } from '../../src/store/types.ts';
import { codeOfAsync } from '../support/error-codes.ts';
import { issuedEntry, tempStorePerTest } from './store-fixtures.ts';

const openStore = tempStorePerTest();

async function issue(store: Store, requestId: string, createdAt: string, validBefore: string): Promise<string> {
  const entry = issuedEntry(requestId);
  if (entry.certificate === undefined) throw new Error('fixture has a certificate');
  entry.request.createdAt = createdAt;
  entry.certificate.validBefore = validBefore;
  await store.recordDecision(entry);
  return entry.certificate.serial;
}

describe('retention in the store', () => {
  it('lists requests past the cutoff with their rows, oldest first, and removes them with one audit record, the chain intact', async () => {
    const { store } = await openStore();
    const oldSerial = await issue(store, 'req-old', '2024-01-01T00:00:00.000Z', '2024-01-01T00:30:00.000Z');
    await store.recordRevocation({
      serial: oldSerial, caKeyId: 'ssh-user-ca/1', validBefore: '2024-01-01T00:30:00.000Z', revokedBy: 'bob', reason: 'lost',
      event: { type: 'ssh.revoked', actor: 'bob', data: { serial: oldSerial } },
    });
    await issue(store, 'req-older', '2023-06-01T00:00:00.000Z', '2023-06-01T00:30:00.000Z');
    // Created before the cutoff, but its certificate lives past it: kept.
    await issue(store, 'req-long', '2024-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
    await issue(store, 'req-new', '2025-03-01T12:00:00.000Z', '2025-03-01T12:30:00.000Z');

    const retired = await store.listRetired('2024-06-01T00:00:00.000Z', 10);
    expect(retired.map((entry) => entry.request.id)).toEqual(['req-older', 'req-old']);
    expect(retired[1]).toMatchObject({ certificate: { serial: oldSerial }, approvals: [], revocation: { revokedBy: 'bob', reason: 'lost' } });
    expect((await store.listRetired('2024-06-01T00:00:00.000Z', 1)).map((entry) => entry.request.id)).toEqual(['req-older']);

    const record = await store.recordRetention({ requestIds: ['req-older', 'req-old'], event: { type: 'retention.pruned', actor: 'ops', data: { requests: 2 } } });
    expect(record.type).toBe('retention.pruned');
    expect(await store.listRetired('2024-06-01T00:00:00.000Z', 10)).toEqual([]);
    expect(await store.getRequest('req-old')).toBeUndefined();
    expect(await store.findCertificateBySerial(oldSerial)).toBeUndefined();
    expect(await store.getRequest('req-long')).toBeDefined();
    expect(await store.getRequest('req-new')).toBeDefined();
    expect(await store.listRevocations('2000-01-01T00:00:00.000Z')).toEqual([]);
    // The audit records of the removed requests stay, and the chain still verifies.
    expect((await store.listAudit()).filter((entry) => entry.requestId === 'req-old').length).toBeGreaterThan(0);
    expect((await store.verifyAudit()).ok).toBe(true);
  });

  it('refuses a limit out of range and an empty id list with ERR_REQUEST_INVALID, writing nothing', async () => {
    const { store } = await openStore();
    expect(await codeOfAsync(store.listRetired('2024-01-01T00:00:00.000Z', 0))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(await codeOfAsync(store.listRetired('2024-01-01T00:00:00.000Z', 1001))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(await codeOfAsync(store.recordRetention({ requestIds: [], event: { type: 'retention.pruned', actor: 'ops', data: {} } }))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(await store.listAudit()).toEqual([]);
  });
});
