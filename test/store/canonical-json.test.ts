/**
 * canonical-json.ts serialises in a fast pass and falls back to a path-tracking pass only to name
 * a bad value; the audit hash is computed over its output. Both must write exactly what the
 * original single-pass serialiser wrote (kept below as the reference), and reject the same values
 * at the same path, or stored hashes would stop verifying.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { auditContentHash, auditRecordHash } from '../../src/store/audit-chain.ts';
import type { UnhashedAuditRecord } from '../../src/store/audit-chain.ts';
import { canonicalJson, canonicaliseJsonObject, canonicalObjectText, normaliseJsonObject } from '../../src/store/canonical-json.ts';
import { deniedEntry, openTempStore, removeDir } from './store-fixtures.ts';

/** The serialiser as it was before the fast pass (RFC 8785 for JSON values). */
function reference(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${reference(record[key])}`).join(',')}}`;
}

const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary' }),
    fc.array(tie('value')),
    fc.dictionary(fc.string({ unit: 'binary-ascii' }), fc.option(tie('value'), { nil: undefined })),
  ),
})).value;

const jsonObject = fc.dictionary(fc.string(), jsonValue);

function errorOf(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('canonical JSON', () => {
  it('writes what the original serialiser wrote, for any JSON value', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 500 },
    );
  });

  it('canonical text stands for its value: parsing it and serialising again gives the same text', () => {
    fc.assert(
      fc.property(jsonObject, (value) => {
        const { text, value: normalised } = canonicaliseJsonObject(value, 'data');
        expect(canonicalJson(normalised)).toBe(text);
        expect(canonicalObjectText(value, 'data')).toBe(text);
        expect(normaliseJsonObject(value, 'data')).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('names the same path for a value it cannot store, wherever it sits', () => {
    const bad: Array<[unknown, string]> = [
      [{ a: { b: [1, 2, Number.NaN] } }, 'data.a.b[2]'],
      [{ a: [{}, { c: 5n }] }, 'data.a[1].c'],
      [{ z: 1, a: { when: new Date(0) } }, 'data.a.when'],
      [{ f: () => 1 }, 'data.f'],
      [{ deep: JSON.parse(`${'['.repeat(70)}${']'.repeat(70)}`) as unknown }, `data.deep${'[0]'.repeat(64)}`],
    ];
    for (const [value, path] of bad) {
      const error = errorOf(() => canonicalObjectText(value, 'data'));
      expect(isJitcaError(error, ErrorCodes.REQUEST_INVALID)).toBe(true);
      expect(isJitcaError(error) ? error.details?.path : undefined).toBe(path);
    }
  });

  it('rejects a sparse array (it used to be written as `[1,,2]`, which is not JSON)', () => {
    const error = errorOf(() => canonicalObjectText({ list: [1, , 2] }, 'data'));
    expect(isJitcaError(error, ErrorCodes.REQUEST_INVALID)).toBe(true);
    expect(isJitcaError(error) ? error.details?.path : undefined).toBe('data.list[1]');
  });

  it('hashes the spelled-out audit content exactly as canonical JSON of the content object', () => {
    const record = fc.record({
      seq: fc.integer({ min: 1 }),
      at: fc.string(),
      type: fc.constantFrom('ssh.issued' as const, 'ca.rotated' as const),
      actor: fc.string({ unit: 'grapheme' }),
      subject: fc.option(fc.string({ unit: 'grapheme' }), { nil: undefined }),
      requestId: fc.option(fc.string(), { nil: undefined }),
      data: jsonObject,
      prevHash: fc.string(),
    });
    fc.assert(
      fc.property(record, (r) => {
        const unhashed: UnhashedAuditRecord = { ...r };
        if (r.subject === undefined) delete unhashed.subject;
        if (r.requestId === undefined) delete unhashed.requestId;
        const content = {
          seq: r.seq,
          at: r.at,
          type: r.type,
          actor: r.actor,
          subject: r.subject ?? null,
          requestId: r.requestId ?? null,
          data: r.data,
          prevHash: r.prevHash,
        };
        const expected = createHash('sha256').update(reference(content), 'utf8').digest('hex');
        expect(auditRecordHash(unhashed)).toBe(expected);
        expect(auditContentHash(unhashed, canonicalJson(r.data))).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('a recordDecision with a sparse array in its audit data is refused as ERR_REQUEST_INVALID and writes nothing', async () => {
    const { store, dir } = await openTempStore();
    try {
      const entry = deniedEntry('req-sparse');
      entry.event.data = { rules: ['a', , 'b'] };
      const error = await store.recordDecision(entry).catch((e: unknown) => e);
      expect(isJitcaError(error, ErrorCodes.REQUEST_INVALID)).toBe(true);
      expect(await store.getRequest('req-sparse')).toBeUndefined();
      expect(await store.listAudit()).toEqual([]);
    } finally {
      await store.close();
      removeDir(dir);
    }
  });
});
