import { describe, expect, it } from 'vitest';
import { newRequestId } from '../../src/issuance/request-id.ts';

describe('request ids', () => {
  it('sort by creation time (so inserts append to the B-trees keyed by them), and keep the req_ + 32 hex shape', () => {
    const start = Date.parse('2026-12-04T20:00:00.000Z');
    const ids = Array.from({ length: 1000 }, (_, i) => newRequestId(start + i));
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(ids[0]?.slice(4, 16)).toBe(start.toString(16).padStart(12, '0'));
  });

  it('stay unguessable: ids of the same millisecond differ in their random tail', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newRequestId(1_700_000_000_000)));
    expect(ids.size).toBe(10_000);
  });
});
