import { describe, expect, it } from 'vitest';
import type { CaGeneration } from '../../src/store/types.ts';
import { forcedStep, planRotation, rollbackTarget, type CaFacts } from '../../rotation/rotation-plan.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();
const schedule = { periodMs: 90 * DAY, overlapMs: 7 * DAY, skewMs: 60_000 };

function generation(number: number, state: CaGeneration['state'], dates: Partial<CaGeneration> = {}): CaGeneration {
  return { ca: 'ssh-user', generation: number, state, keyId: `ssh-user-ca/${number}`, algorithm: 'ed25519', publicKey: 'AAAA', createdAt: iso(T0), ...dates };
}

function facts(generations: CaGeneration[], more: Partial<CaFacts> = {}): CaFacts {
  return { ca: 'ssh-user', generations, keysWithoutRow: [], lastValidBefore: {}, ...more };
}

const due = (f: CaFacts, now: number) => planRotation(f, schedule, new Date(now)).filter((entry) => entry.ready).map((entry) => entry.step);

describe('rotation planning', () => {
  const active = generation(1, 'active', { activatedAt: iso(T0) });

  it('generates next one overlap before the period ends, not earlier', () => {
    expect(due(facts([active]), T0 + 83 * DAY - 1)).toEqual([]);
    expect(due(facts([active]), T0 + 83 * DAY)).toEqual([{ kind: 'generate', ca: 'ssh-user', generation: 2 }]);
  });

  it('promotes when the period is over, next has been published for the overlap, and readiness agrees', () => {
    const next = generation(2, 'next', { createdAt: iso(T0 + 85 * DAY) });
    const ready = { ready: true, detail: 'ok' };
    expect(due(facts([active, next], { readiness: ready }), T0 + 90 * DAY)).toEqual([]);
    expect(due(facts([active, next], { readiness: ready }), T0 + 92 * DAY)).toEqual([{ kind: 'promote', ca: 'ssh-user', generation: 2, replaces: 1 }]);
    expect(due(facts([active, next], { readiness: { ready: false, detail: '3 of 4 hosts' } }), T0 + 120 * DAY)).toEqual([]);
  });

  it('retires after the last certificate of the retiring generation plus the skew, not at the start of retiring', () => {
    const retiring = generation(1, 'retiring', { activatedAt: iso(T0), retiringAt: iso(T0 + 90 * DAY) });
    const f = facts([retiring, generation(2, 'active', { activatedAt: iso(T0 + 90 * DAY) })], { lastValidBefore: { 1: iso(T0 + 90 * DAY + 8 * HOUR) } });
    expect(due(f, T0 + 90 * DAY + 8 * HOUR + 59_999)).toEqual([]);
    expect(due(f, T0 + 90 * DAY + 8 * HOUR + 60_000)).toEqual([{ kind: 'retire', ca: 'ssh-user', generation: 1 }]);
  });

  it('adopts a key that has no row first, and does not generate another meanwhile', () => {
    const f = facts([active], { keysWithoutRow: [2] });
    expect(due(f, T0 + 100 * DAY)).toEqual([{ kind: 'adopt', ca: 'ssh-user', generation: 2 }]);
  });

  it('forces the first that applies: a due retirement, then promotion (readiness or not), then generation', () => {
    const next = generation(2, 'next', { createdAt: iso(T0 + 1 * DAY) });
    expect(forcedStep(facts([active]), schedule, new Date(T0 + DAY))).toEqual({ kind: 'generate', ca: 'ssh-user', generation: 2 });
    expect(forcedStep(facts([active, next], { readiness: { ready: false, detail: 'no' } }), schedule, new Date(T0 + DAY))).toEqual({
      kind: 'promote',
      ca: 'ssh-user',
      generation: 2,
      replaces: 1,
    });
    const retiring = generation(1, 'retiring', { retiringAt: iso(T0) });
    const withRetiring = facts([retiring, generation(2, 'active', { activatedAt: iso(T0) })]);
    expect(forcedStep(withRetiring, schedule, new Date(T0 + 60_000))).toEqual({ kind: 'retire', ca: 'ssh-user', generation: 1 });
    // Not yet expired: forcing skips the retirement and generates instead.
    expect(forcedStep(withRetiring, schedule, new Date(T0 + 1_000))).toEqual({ kind: 'generate', ca: 'ssh-user', generation: 3 });
  });

  it('never reuses a generation number, retired ones included', () => {
    const f = facts([generation(1, 'retired'), generation(3, 'active', { activatedAt: iso(T0) })]);
    expect(forcedStep(f, schedule, new Date(T0))).toEqual({ kind: 'generate', ca: 'ssh-user', generation: 4 });
  });

  it('rolls back only to a generation still trusted (retiring)', () => {
    expect(rollbackTarget([generation(1, 'retired'), active])).toBeUndefined();
    expect(rollbackTarget([generation(1, 'retiring'), generation(2, 'retiring'), generation(3, 'active')])?.restore.generation).toBe(2);
  });
});
