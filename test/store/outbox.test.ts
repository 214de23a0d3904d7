import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { checkOutbox, claimAt, OUTBOX_SINKS, pendingEntry } from './outbox-cases.ts';
import { START_MS, tempStorePerTest } from './store-fixtures.ts';

const openTemp = tempStorePerTest();

describe('the notification outbox (SQLite)', () => {
  it('writes a row per wanting sink in the audit record\'s transaction, none for a write that failed; claims, settles, retries and gives up', async () => {
    const { store } = await openTemp({ outboxSinks: OUTBOX_SINKS });
    await checkOutbox(store);
  });

  it('commits an audit record only with its outbox rows: when a row cannot be written, neither is the record nor its request', async () => {
    const { store, dbPath } = await openTemp({ outboxSinks: OUTBOX_SINKS });
    const first = await store.recordDecision(pendingEntry('req_first'));
    // Someone took the id the next record's row would get (as a replayed row would).
    const direct = new Database(dbPath);
    direct
      .prepare("insert into notification_outbox (id, audit_seq, sink, kind, state, attempts, next_attempt_at, created_at) values (?, ?, 'siem', 'pending', 'sent', 1, ?, ?)")
      .run(`${first.seq + 1}:siem`, first.seq + 1, new Date(START_MS).toISOString(), new Date(START_MS).toISOString());
    direct.close();
    const refused = await store.recordDecision(pendingEntry('req_second')).catch((error: unknown) => error);
    // The database refused the entry (a bug's class: the row id is derived from the seq).
    expect(isJitcaError(refused, ErrorCodes.STORE_FAILURE)).toBe(true);
    expect(await store.auditHead()).toEqual({ seq: first.seq, hash: first.hash });
    expect(await store.getRequest('req_second')).toBeUndefined();
    expect(await store.notificationBacklog()).toMatchObject({ pending: 2 });
  });

  it('writes rows only for the sinks of the request\'s role, when a sink names roles', async () => {
    const { store } = await openTemp({
      outboxSinks: [
        { name: 'payments', kinds: ['pending'], roles: ['oncall-payments'] },
        { name: 'sre', kinds: ['pending'], roles: ['break-glass'] },
        { name: 'everyone', kinds: ['pending'] },
      ],
    });
    const record = await store.recordDecision(pendingEntry('req_routed'));
    expect((await store.claimNotifications(claimAt(START_MS))).map((row) => row.id).sort()).toEqual([`${record.seq}:everyone`, `${record.seq}:payments`]);
  });

  it('writes no rows when no sink is configured (nothing would ever send them)', async () => {
    const { store } = await openTemp();
    await store.recordDecision(pendingEntry('req_no_sink'));
    expect(await store.notificationBacklog()).toEqual({ pending: 0, dead: 0 });
    expect(await store.claimNotifications(claimAt(START_MS))).toEqual([]);
  });
});
