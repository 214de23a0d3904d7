import { describe, expect, it } from 'vitest';
import { witnessAuditHead, type WitnessLog } from '../../src/cli/audit-witness.ts';
import { ErrorCodes, JitcaError } from '../../src/errors.ts';
import type { Store } from '../../src/store/types.ts';
import { tempStorePerTest } from '../store/store-fixtures.ts';

const openStore = tempStorePerTest();

describe('witnessAuditHead', () => {
  it('logs the head at start, again only when it moved, and at stop; the logged values are anchors that verify', async () => {
    const { store } = await openStore();
    await store.appendAudit({ type: 'ca.created', actor: 'system', data: {} });
    const lines: Array<Record<string, unknown>> = [];
    const log: WitnessLog = { info: (fields, message) => lines.push({ ...fields, message }), warn: () => undefined };

    const witness = witnessAuditHead(store, log, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const first = await store.auditHead();
    expect(lines).toEqual([{ auditHead: `1:${first?.hash}`, message: 'audit head' }]);

    await store.appendAudit({ type: 'ca.rotated', actor: 'system', data: { generation: 2 } });
    await witness.stop();
    const second = await store.auditHead();
    expect(lines.map((line) => line['auditHead'])).toEqual([`1:${first?.hash}`, `2:${second?.hash}`]);

    // Nothing new: stopping again logs nothing more.
    await witness.stop();
    expect(lines).toHaveLength(2);
    const anchors = lines.map((line) => String(line['auditHead']).split(':')).map(([seq, hash]) => ({ seq: Number(seq), hash: String(hash) }));
    expect(await store.verifyAudit(anchors)).toEqual({ ok: true, records: 2 });
  });

  it('an unreadable store is a warning, and the next tick tries again', async () => {
    const real = (await openStore()).store;
    await real.appendAudit({ type: 'ca.created', actor: 'system', data: {} });
    let failing = true;
    const store: Store = {
      ...real,
      auditHead: () => (failing ? Promise.reject(new JitcaError(ErrorCodes.STORE_UNAVAILABLE, 'database down')) : real.auditHead()),
    };
    const lines: unknown[] = [];
    const warnings: string[] = [];
    const witness = witnessAuditHead(store, { info: (fields) => lines.push(fields), warn: (_fields, message) => warnings.push(message) }, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(warnings).toEqual(['could not read the audit head']);
    expect(lines).toEqual([]);
    failing = false;
    await witness.stop();
    expect(lines).toHaveLength(1);
  });
});
