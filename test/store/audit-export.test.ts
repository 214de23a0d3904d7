import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { auditRecordHash, GENESIS_PREV_HASH } from '../../src/store/audit-chain.ts';
import { auditExportLine, parseAuditExportLine, verifyAuditExport } from '../../src/store/audit-export.ts';
import { canonicalJson } from '../../src/store/canonical-json.ts';
import type { AuditRecord } from '../../src/store/types.ts';
import { codeOf, codeOfAsync } from '../support/error-codes.ts';

/** A chain of records of the shapes the store writes: with and without subject/requestId, nested data. */
function chain(length: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  let prevHash = GENESIS_PREV_HASH;
  for (let seq = 1; seq <= length; seq++) {
    const unhashed: Omit<AuditRecord, 'hash'> = {
      seq,
      at: `2026-11-23T12:00:${String(seq % 60).padStart(2, '0')}.000Z`,
      type: seq % 2 === 0 ? 'ssh.issued' : 'request.denied',
      actor: seq % 3 === 0 ? 'gateway' : 'alice@example.com',
      data: { serial: String(1000 + seq), principals: ['oncall-payments'], scope: { cluster: 'prod', namespace: 'payments' }, note: 'é\u2028"' },
      prevHash,
    };
    if (seq % 2 === 0) unhashed.subject = 'alice@example.com';
    if (seq % 4 !== 0) unhashed.requestId = `req-${seq}`;
    const record = { ...unhashed, hash: auditRecordHash(unhashed) };
    records.push(record);
    prevHash = record.hash;
  }
  return records;
}

async function* linesOf(lines: readonly string[]): AsyncGenerator<string> {
  yield* lines;
}

const exported = (records: readonly AuditRecord[]): string[] => records.map(auditExportLine);

describe('audit export lines', () => {
  it('are the canonical JSON of each record and read back to the same record', () => {
    for (const record of chain(8)) {
      const line = auditExportLine(record);
      expect(line).not.toContain('\n');
      expect(canonicalJson(JSON.parse(line))).toBe(line);
      expect(parseAuditExportLine(line, 1)).toEqual(record);
    }
  });

  it('refuse, by line number, anything that is not exactly a record as jitca writes it', () => {
    const record = chain(1)[0]!;
    const line = auditExportLine(record);
    const members = JSON.parse(line) as Record<string, unknown>;
    const withMembers = (changes: Record<string, unknown>): string => JSON.stringify({ ...members, ...changes });
    const { subject: _subject, ...withoutSubject } = members;
    const refused = [
      '',
      'not json',
      '[1,2]',
      'null',
      line.replace('"actor":', '"actor":"mallory","actor":'), // duplicate key: JSON.parse would keep the second
      JSON.stringify(withoutSubject),
      withMembers({ extra: true }),
      withMembers({ seq: '1' }),
      withMembers({ seq: 0 }),
      withMembers({ seq: 1.5 }),
      withMembers({ actor: 7 }),
      withMembers({ subject: 3 }),
      withMembers({ requestId: [] }),
      withMembers({ data: [] }),
      withMembers({ data: null }),
      withMembers({ hash: record.hash.toUpperCase() }),
      withMembers({ prevHash: 'abc' }),
    ];
    for (const text of refused) {
      const error = (() => {
        try {
          parseAuditExportLine(text, 42);
        } catch (caught) {
          return caught as { code?: string; message?: string; details?: Record<string, unknown> };
        }
        return undefined;
      })();
      expect(error?.code, text).toBe(ErrorCodes.REQUEST_INVALID);
      expect(error?.message).toMatch(/^audit export line 42: /);
      expect(error?.details).toEqual({ line: 42 });
    }
  });
});

describe('verifyAuditExport', () => {
  it('accepts a whole copy, and a resumed part given the record it continues from', async () => {
    const records = chain(10);
    await expect(verifyAuditExport(linesOf(exported(records)))).resolves.toEqual({ ok: true, records: 10 });
    const after = { seq: 6, hash: records[5]!.hash };
    await expect(verifyAuditExport(linesOf(exported(records.slice(6))), [], after)).resolves.toEqual({ ok: true, records: 4 });
    await expect(verifyAuditExport(linesOf([]), [], after)).resolves.toEqual({ ok: true, records: 0 });
  });

  it('names the first record of a copy that was edited, shortened in the middle or reordered', async () => {
    const lines = exported(chain(10));
    const edited = [...lines];
    edited[4] = edited[4]!.replace('"alice@example.com"', '"mallory@example.com"');
    await expect(verifyAuditExport(linesOf(edited))).resolves.toEqual({ ok: false, records: 4, firstBroken: { seq: 5, reason: 'hash-mismatch' } });
    const gap = lines.filter((_line, i) => i !== 3);
    await expect(verifyAuditExport(linesOf(gap))).resolves.toEqual({ ok: false, records: 3, firstBroken: { seq: 4, reason: 'sequence-gap' } });
    const swapped = [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)];
    await expect(verifyAuditExport(linesOf(swapped))).resolves.toEqual({ ok: false, records: 1, firstBroken: { seq: 2, reason: 'sequence-gap' } });
  });

  it('checks a resumed part against the record it claims to follow', async () => {
    const records = chain(10);
    const part = exported(records.slice(6));
    // Without the starting point the part cannot stand on its own.
    await expect(verifyAuditExport(linesOf(part))).resolves.toEqual({ ok: false, records: 0, firstBroken: { seq: 1, reason: 'sequence-gap' } });
    // A starting hash that is not the previous record's: the first record does not follow it.
    const wrongHash = { seq: 6, hash: records[4]!.hash };
    await expect(verifyAuditExport(linesOf(part), [], wrongHash)).resolves.toEqual({ ok: false, records: 0, firstBroken: { seq: 7, reason: 'prev-hash-mismatch' } });
    // Anchors inside the part are checked; one at or before the start cannot be, and is refused.
    const tail = { seq: 10, hash: records[9]!.hash };
    await expect(verifyAuditExport(linesOf(part.slice(0, 2)), [tail], { seq: 6, hash: records[5]!.hash })).resolves.toEqual({
      ok: false,
      records: 2,
      firstBroken: { seq: 9, reason: 'truncated' },
    });
    expect(await codeOfAsync(verifyAuditExport(linesOf(part), [{ seq: 6, hash: records[5]!.hash }], { seq: 6, hash: records[5]!.hash }))).toBe(
      ErrorCodes.REQUEST_INVALID,
    );
  });

  it('refuses a malformed line even after the chain already broke: nothing is skipped unread', async () => {
    const lines = exported(chain(5));
    lines[1] = lines[1]!.replace('"seq":2', '"seq":20');
    lines[3] = '{"truncated":';
    expect(await codeOfAsync(verifyAuditExport(linesOf(lines)))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(codeOf(() => parseAuditExportLine('x'.repeat(1024 * 1024 + 1), 1))).toBe(ErrorCodes.REQUEST_INVALID);
  });
});
