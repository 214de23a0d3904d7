import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { auditRecordHash, GENESIS_PREV_HASH, parseAuditAnchor, verifyAuditChain } from '../../src/store/audit-chain.ts';
import type { AuditAnchor, AuditRecord, AuditVerifyResult, Store } from '../../src/store/types.ts';
import { deniedEntry, issuedEntry, makeTempDir, openTempStore, removeDir } from './store-fixtures.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

/** 100 records of every shape: issued, denied, pending/approved with approvals, system events. */
async function writeMixedLog(store: Store, advance: (ms: number) => void): Promise<void> {
  for (let i = 0; i < 100; i++) {
    advance(1000);
    switch (i % 5) {
      case 0:
        await store.recordDecision(issuedEntry(`req-${i}`));
        break;
      case 1:
        await store.recordDecision(deniedEntry(`req-${i}`));
        break;
      case 2:
        await store.recordDecision({
          request: { ...deniedEntry(`req-${i}`).request, state: 'pending', expiresAt: '2025-03-01T13:00:00Z' },
          event: { type: 'request.pending', actor: 'carol@example.com', data: { approvers: ['dave', 'erin'] } },
        });
        break;
      case 3:
        await store.recordDecision({
          request: { ...deniedEntry(`req-${i - 1}`).request, state: 'approved' },
          approval: { approver: 'dave@example.com' },
          event: { type: 'request.approved', actor: 'dave@example.com', subject: 'carol@example.com', data: {} },
        });
        break;
      default:
        await store.appendAudit({
          type: 'ca.rotated',
          actor: 'system',
          // Unordered keys, nesting and non-ASCII text must hash the same after the round trip.
          data: { z: [1, 2.5, -0, { y: null, x: true }], a: 'Grüße ✓ 🔐', nested: { b: 1, a: 2 }, gone: undefined },
        });
    }
  }
}

async function mixedLogFile(): Promise<string> {
  const dir = makeTempDir();
  dirs.push(dir);
  const t = await openTempStore(dir);
  await writeMixedLog(t.store, t.clock.advance);
  await t.store.close();
  return t.dbPath;
}

async function verifyFile(dbPath: string, anchors: AuditAnchor[] = []): Promise<AuditVerifyResult> {
  const t = await openTempStore(dbPath.replace(/\/jitca\.db$/, ''));
  try {
    return await t.store.verifyAudit(anchors);
  } finally {
    await t.store.close();
  }
}

async function recordsOf(dbPath: string): Promise<AuditRecord[]> {
  const t = await openTempStore(dbPath.replace(/\/jitca\.db$/, ''));
  try {
    return await t.store.listAudit({ limit: 1000 });
  } finally {
    await t.store.close();
  }
}

/** The (seq, hash) someone outside the database saw, e.g. in serve's "audit head" log line. */
async function anchorOf(dbPath: string, seq: number): Promise<AuditAnchor> {
  const record = (await recordsOf(dbPath)).find((candidate) => candidate.seq === seq);
  if (record === undefined) throw new Error(`seq ${seq} missing`);
  return { seq, hash: record.hash };
}

function tamper(dbPath: string, statements: (db: Database.Database) => void): void {
  const db = new Database(dbPath);
  try {
    statements(db);
  } finally {
    db.close();
  }
}

const CONTENT_COLUMNS = ['at', 'type', 'actor', 'subject', 'request_id', 'data', 'prev_hash', 'hash'];

describe('audit chain', () => {
  it('verifies after 100 mixed records, in the store and from the listed records', async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const { store, clock } = await openTempStore(dir);
    await writeMixedLog(store, clock.advance);
    expect(await store.verifyAudit()).toEqual({ ok: true, records: 100 });
    const records = await store.listAudit({ limit: 10000 });
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(verifyAuditChain(records)).toEqual({ ok: true, records: 100 });
    expect((await store.listAudit({ afterSeq: 95 })).map((r) => r.seq)).toEqual([96, 97, 98, 99, 100]);
    await store.close();
  });

  it('hashes the documented canonical JSON so outside tools can recompute it', async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const { store } = await openTempStore(dir);
    const record = await store.appendAudit({ type: 'ca.created', actor: 'system', data: { purpose: 'ssh-user', alg: 'ed25519' } });
    await store.close();
    const canonical =
      '{"actor":"system","at":"2025-03-01T12:00:00.000Z","data":{"alg":"ed25519","purpose":"ssh-user"},' +
      `"prevHash":"${GENESIS_PREV_HASH}","requestId":null,"seq":1,"subject":null,"type":"ca.created"}`;
    expect(record.hash).toBe(createHash('sha256').update(canonical).digest('hex'));
  });

  it('a changed record breaks the chain at that record (hash-mismatch)', async () => {
    const dbPath = await mixedLogFile();
    tamper(dbPath, (db) => db.prepare(`update audit_log set data = '{"serial":"1"}' where seq = 37`).run());
    expect(await verifyFile(dbPath)).toEqual({ ok: false, records: 36, firstBroken: { seq: 37, reason: 'hash-mismatch' } });
  });

  it('a record changed to text that is not JSON still reports hash-mismatch', async () => {
    const dbPath = await mixedLogFile();
    tamper(dbPath, (db) => db.prepare(`update audit_log set data = 'not json' where seq = 3`).run());
    expect(await verifyFile(dbPath)).toMatchObject({ ok: false, firstBroken: { seq: 3, reason: 'hash-mismatch' } });
  });

  it('a deleted middle record is reported as a sequence gap at its seq', async () => {
    const dbPath = await mixedLogFile();
    tamper(dbPath, (db) => db.prepare('delete from audit_log where seq = 50').run());
    expect(await verifyFile(dbPath)).toEqual({ ok: false, records: 49, firstBroken: { seq: 50, reason: 'sequence-gap' } });
  });

  it('a deleted first record is reported as a sequence gap at seq 1', async () => {
    const dbPath = await mixedLogFile();
    tamper(dbPath, (db) => db.prepare('delete from audit_log where seq = 1').run());
    expect(await verifyFile(dbPath)).toEqual({ ok: false, records: 0, firstBroken: { seq: 1, reason: 'sequence-gap' } });
  });

  it('two records with swapped contents break the chain at the first swapped seq', async () => {
    const dbPath = await mixedLogFile();
    tamper(dbPath, (db) => {
      const get = db.prepare(`select ${CONTENT_COLUMNS.join(', ')} from audit_log where seq = ?`);
      const a = get.get(20) as Record<string, unknown>;
      const b = get.get(60) as Record<string, unknown>;
      const set = db.prepare(`update audit_log set ${CONTENT_COLUMNS.map((c) => `${c} = @${c}`).join(', ')} where seq = @seq`);
      set.run({ ...b, seq: 20 });
      set.run({ ...a, seq: 60 });
    });
    expect(await verifyFile(dbPath)).toEqual({ ok: false, records: 19, firstBroken: { seq: 20, reason: 'hash-mismatch' } });
  });

  it('a record edited and re-hashed breaks the link of the next record (prev-hash-mismatch)', async () => {
    const dbPath = await mixedLogFile();
    const dir = dbPath.replace(/\/jitca\.db$/, '');
    const t = await openTempStore(dir);
    const [original] = await t.store.listAudit({ afterSeq: 29, limit: 1 });
    await t.store.close();
    if (original === undefined) throw new Error('seq 30 missing');
    const forged: AuditRecord = { ...original, actor: 'someone-else@example.com' };
    forged.hash = auditRecordHash(forged);
    tamper(dbPath, (db) =>
      db.prepare('update audit_log set actor = ?, hash = ? where seq = 30').run(forged.actor, forged.hash),
    );
    expect(await verifyFile(dbPath)).toEqual({ ok: false, records: 30, firstBroken: { seq: 31, reason: 'prev-hash-mismatch' } });
  });

  it('removing the newest records is not detectable from the chain alone, but an anchor beyond the new end is (truncated)', async () => {
    const dbPath = await mixedLogFile();
    const head = await anchorOf(dbPath, 100);
    tamper(dbPath, (db) => db.prepare('delete from audit_log where seq > 90').run());
    expect(await verifyFile(dbPath)).toEqual({ ok: true, records: 90 });
    expect(await verifyFile(dbPath, [head])).toEqual({ ok: false, records: 90, firstBroken: { seq: 91, reason: 'truncated' } });
  });

  it('a record edited and the whole rest re-hashed verifies, except against an anchor taken before (anchor-mismatch)', async () => {
    const dbPath = await mixedLogFile();
    const earlier = await anchorOf(dbPath, 80);
    const records = await recordsOf(dbPath);
    // Whoever can write the database rewrites seq 40 and recomputes every hash after it.
    let prevHash = records[38]?.hash ?? '';
    const rewritten = records.slice(39).map((record, index) => {
      const forged: AuditRecord = { ...record, prevHash, ...(index === 0 ? { actor: 'someone-else@example.com' } : {}) };
      forged.hash = auditRecordHash(forged);
      prevHash = forged.hash;
      return forged;
    });
    tamper(dbPath, (db) => {
      const update = db.prepare('update audit_log set actor = ?, prev_hash = ?, hash = ? where seq = ?');
      for (const record of rewritten) update.run(record.actor, record.prevHash, record.hash, record.seq);
    });
    expect(await verifyFile(dbPath)).toEqual({ ok: true, records: 100 });
    expect(await verifyFile(dbPath, [earlier])).toEqual({ ok: false, records: 79, firstBroken: { seq: 80, reason: 'anchor-mismatch' } });
    // An anchor from before the rewritten record still matches: the log up to there is as it was.
    expect(await verifyFile(dbPath, [await anchorOf(dbPath, 39)])).toEqual({ ok: true, records: 100 });
  });

  it('malformed anchors are ERR_REQUEST_INVALID, not a verification result', async () => {
    const dbPath = await mixedLogFile();
    for (const anchors of [[{ seq: 0, hash: 'a'.repeat(64) }], [{ seq: 5, hash: 'A'.repeat(64) }], [{ seq: 5, hash: 'a'.repeat(63) }],
      [{ seq: 5, hash: 'a'.repeat(64) }, { seq: 5, hash: 'b'.repeat(64) }]]) {
      await expect(verifyFile(dbPath, anchors)).rejects.toMatchObject({ code: ErrorCodes.REQUEST_INVALID });
    }
    expect(parseAuditAnchor(`7:${'0f'.repeat(32)}`)).toEqual({ seq: 7, hash: '0f'.repeat(32) });
    for (const text of ['7', `0:${'0f'.repeat(32)}`, `07:${'0f'.repeat(32)}`, `7:${'0F'.repeat(32)}`, ` 7:${'0f'.repeat(32)}`]) {
      expect(() => parseAuditAnchor(text)).toThrow(expect.objectContaining({ code: ErrorCodes.REQUEST_INVALID }));
    }
  });
});

describe('verifyAuditChain', () => {
  function chain(length: number): AuditRecord[] {
    const records: AuditRecord[] = [];
    let prevHash = GENESIS_PREV_HASH;
    for (let seq = 1; seq <= length; seq++) {
      const unhashed = { seq, at: '2025-03-01T12:00:00.000Z', type: 'ca.rotated' as const, actor: 'system', data: { seq }, prevHash };
      const record = { ...unhashed, hash: auditRecordHash(unhashed) };
      records.push(record);
      prevHash = record.hash;
    }
    return records;
  }

  it('accepts an empty log and an intact chain', () => {
    expect(verifyAuditChain([])).toEqual({ ok: true, records: 0 });
    expect(verifyAuditChain(chain(5))).toEqual({ ok: true, records: 5 });
  });

  it('reports only the first broken link', () => {
    const records = chain(6);
    const changed = records.map((r) => ({ ...r }));
    changed[2] = { ...records[2]!, data: { seq: 99 } };
    changed[4] = { ...records[4]!, data: { seq: 98 } };
    expect(verifyAuditChain(changed)).toEqual({ ok: false, records: 2, firstBroken: { seq: 3, reason: 'hash-mismatch' } });
  });

  it('treats records out of seq order as a gap at the expected seq', () => {
    const records = chain(4);
    expect(verifyAuditChain([records[0]!, records[2]!, records[1]!, records[3]!])).toEqual({
      ok: false,
      records: 1,
      firstBroken: { seq: 2, reason: 'sequence-gap' },
    });
  });
});
