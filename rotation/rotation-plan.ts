import type { CaGeneration, CaKind } from '../src/store/types.ts';
import type { ReadinessVerdict } from './promotion-readiness.ts';

/**
 * The rotation schedule's decisions, pure (CONTRIBUTING.md, "decide then act"): from what the
 * store and the key manager hold for one CA, the schedule and the time, which steps are due now
 * and which wait until when. The executor (rotation-engine.ts) gathers the facts, asks here, and
 * performs the first step; nothing it does decides again.
 */

export interface RotationSchedule {
  /** How long a generation signs before the next one is promoted. */
  periodMs: number;
  /** How long `next` is published before it may be promoted. */
  overlapMs: number;
  /** The clock-skew allowance (ssh.backdateSeconds): a retiring key stays trusted this long after its last certificate expires. */
  skewMs: number;
}

/** Everything planning reads about one CA, gathered before it decides. */
export interface CaFacts {
  ca: CaKind;
  generations: readonly CaGeneration[];
  /** Generations with a key in the key manager and no row: a generation step cut short after its key. */
  keysWithoutRow: readonly number[];
  /** Per retiring generation: the latest valid_before of what it signed (undefined: it signed nothing). */
  lastValidBefore: Readonly<Record<number, string | undefined>>;
  /** Whether the `next` generation is trusted where it must be (undefined when there is no next). */
  readiness?: ReadinessVerdict;
}

export type RotationStep =
  /** Record the row of a key that has none (as `next`): finishes a generation step cut short. */
  | { kind: 'adopt'; ca: CaKind; generation: number }
  /** Generate the next key in the key manager, then record it as `next`. */
  | { kind: 'generate'; ca: CaKind; generation: number }
  /** `next` becomes active and the active one retiring, in one transaction. */
  | { kind: 'promote'; ca: CaKind; generation: number; replaces?: number }
  /** A retiring generation whose certificates have all expired leaves the bundles. */
  | { kind: 'retire'; ca: CaKind; generation: number };

export interface PlannedStep {
  step: RotationStep;
  /** When it is due (ISO-8601); a step due at or before now is taken by `apply`. */
  dueAt: string;
  /** Why it waits even when due (readiness), or why it is due; for status and the audit record. */
  note?: string;
  /** Due and nothing holds it back. */
  ready: boolean;
}

/** Steps for one CA, in the order apply takes them: convergence first, then retire, promote, generate. */
export function planRotation(facts: CaFacts, schedule: RotationSchedule, now: Date): PlannedStep[] {
  const nowIso = now.toISOString();
  const steps: PlannedStep[] = facts.keysWithoutRow.map((generation) => ({
    step: { kind: 'adopt', ca: facts.ca, generation },
    dueAt: nowIso,
    note: 'a key without its row (a generation step was cut short)',
    ready: true,
  }));
  for (const retiring of facts.generations.filter((generation) => generation.state === 'retiring')) {
    const retireAt = retireAfter(retiring, facts.lastValidBefore[retiring.generation], schedule);
    steps.push({ step: { kind: 'retire', ca: facts.ca, generation: retiring.generation }, dueAt: retireAt.toISOString(), ready: retireAt <= now });
  }
  const active = facts.generations.find((generation) => generation.state === 'active');
  const next = facts.generations.find((generation) => generation.state === 'next');
  if (active === undefined) return steps;
  const activeSince = Date.parse(active.activatedAt ?? active.createdAt);
  if (next !== undefined) {
    const dueAt = new Date(Math.max(activeSince + schedule.periodMs, Date.parse(next.createdAt) + schedule.overlapMs));
    const readiness = facts.readiness ?? { ready: false, detail: 'readiness not checked' };
    steps.push({
      step: { kind: 'promote', ca: facts.ca, generation: next.generation, replaces: active.generation },
      dueAt: dueAt.toISOString(),
      note: readiness.detail,
      ready: dueAt <= now && readiness.ready,
    });
  } else if (facts.keysWithoutRow.length === 0) {
    const dueAt = new Date(activeSince + schedule.periodMs - schedule.overlapMs);
    steps.push({ step: { kind: 'generate', ca: facts.ca, generation: nextGenerationNumber(facts) }, dueAt: dueAt.toISOString(), ready: dueAt <= now });
  }
  return steps;
}

/**
 * `apply --force`: one step now whatever the schedule says, the first that applies of: retire a
 * retiring generation whose certificates have all expired, promote `next` (readiness or not),
 * generate `next`. A key without a row is finished first, as always.
 */
export function forcedStep(facts: CaFacts, schedule: RotationSchedule, now: Date): RotationStep | undefined {
  const planned = planRotation(facts, schedule, now);
  const first = (kind: RotationStep['kind'], dueOnly: boolean): RotationStep | undefined =>
    planned.find((entry) => entry.step.kind === kind && (!dueOnly || entry.ready))?.step;
  return first('adopt', true) ?? first('retire', true) ?? first('promote', false) ?? first('generate', false);
}

/** When a retiring generation may leave the bundles: after its last certificate and the skew allowance. */
export function retireAfter(retiring: CaGeneration, lastValidBefore: string | undefined, schedule: RotationSchedule): Date {
  const since = Date.parse(retiring.retiringAt ?? retiring.createdAt);
  const last = lastValidBefore === undefined ? since : Math.max(since, Date.parse(lastValidBefore));
  return new Date(last + schedule.skewMs);
}

/** Generation numbers are never reused: one more than any row or key the CA has had. */
export function nextGenerationNumber(facts: Pick<CaFacts, 'generations' | 'keysWithoutRow'>): number {
  return Math.max(0, ...facts.generations.map((generation) => generation.generation), ...facts.keysWithoutRow) + 1;
}

/**
 * Rollback: the newest retiring generation (still trusted) signs again; the active one goes back
 * to `next`, still published. Undefined when there is nothing to roll back to.
 */
export function rollbackTarget(generations: readonly CaGeneration[]): { restore: CaGeneration; demote: CaGeneration } | undefined {
  const active = generations.find((generation) => generation.state === 'active');
  const restore = generations.filter((generation) => generation.state === 'retiring').sort((a, b) => b.generation - a.generation)[0];
  return active === undefined || restore === undefined ? undefined : { restore, demote: active };
}
