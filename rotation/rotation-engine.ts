import { ErrorCodes, JitcaError } from '../src/errors.ts';
import type { Clock } from '../src/clock.ts';
import type { KeyManager } from '../src/keys/key-manager.ts';
import { keyAlgorithmName, type KeyAlgorithm, type Signer } from '../src/keys/signer.ts';
import type { CaGeneration, CaKind, RotationFence, Store } from '../src/store/types.ts';
import type { PromotionReadiness } from './promotion-readiness.ts';
import { forcedStep, planRotation, rollbackTarget, type CaFacts, type PlannedStep, type RotationSchedule, type RotationStep } from './rotation-plan.ts';
import { withRotationLock } from './rotation-lock.ts';

/**
 * The rotation executor: gathers each CA's facts, asks rotation-plan.ts, and performs one step at
 * a time under the store's rotation lock. Each step is ordered so that a SIGKILL anywhere leaves
 * something the next `apply` finishes: a key is generated before its row (a key without a row is
 * adopted), a promotion is one transaction (never two active), a retirement writes its row before
 * it destroys a key (a retired row keeps its key only when --destroy did not run).
 */
export interface RotationEngineOptions {
  store: Pick<Store, 'listCaGenerations' | 'recordCaGenerations' | 'acquireRotationLock' | 'releaseRotationLock' | 'lastValidBefore'>;
  keys: KeyManager;
  caNames: Readonly<Record<CaKind, string>>;
  algorithms: Readonly<Record<CaKind, KeyAlgorithm>>;
  readiness: Readonly<Record<CaKind, PromotionReadiness>>;
  schedule: RotationSchedule;
  clock: Clock;
  /** Who acts, for the audit log. */
  actor: string;
  /** After a generation's key and row exist (and at every apply): what it needs besides (the kube-client CA certificate). */
  publishGeneration?: (ca: CaKind, generation: number, signer: Signer) => Promise<void>;
  /** How long apply waits for another rotator before ERR_ROTATION_LOCKED. */
  lockWaitMs?: number;
  /** Called at each point a crash must be survivable: after a key is generated, after each step is recorded (tests kill the process here). */
  onProgress?: (point: 'key-generated' | 'step-recorded', step: RotationStep) => void;
}

export interface ApplyOptions {
  force?: boolean;
  /** A compromised active generation: generate (if needed) and promote at once, retire it immediately. */
  emergency?: { reason: string };
  destroy?: boolean;
}

export interface TakenStep {
  step: RotationStep;
  forced: boolean;
}

export const CA_KINDS: readonly CaKind[] = ['ssh-user', 'kube-client'];
/** Bounds one apply: a CA needs at most adopt, retire, promote and generate. */
const MAX_STEPS_PER_APPLY = 8;

export function createRotationEngine(options: RotationEngineOptions) {
  const now = (): Date => new Date(options.clock.now());

  async function factsOf(ca: CaKind): Promise<CaFacts> {
    const generations = (await options.store.listCaGenerations()).filter((generation) => generation.ca === ca);
    const recorded = new Set(generations.map((generation) => generation.generation));
    const keysWithoutRow = options.keys
      .list(options.caNames[ca])
      .map((key) => key.generation)
      .filter((generation) => !recorded.has(generation));
    const lastValidBefore: Record<number, string | undefined> = {};
    for (const generation of generations.filter((row) => row.state === 'retiring' || row.state === 'active')) {
      lastValidBefore[generation.generation] = await options.store.lastValidBefore(generation.keyId);
    }
    const next = generations.find((generation) => generation.state === 'next');
    const readiness = next === undefined ? undefined : await options.readiness[ca].check(ca, next, now());
    return { ca, generations, keysWithoutRow, lastValidBefore, ...(readiness === undefined ? {} : { readiness }) };
  }

  async function plan(cas: readonly CaKind[]): Promise<Array<{ facts: CaFacts; steps: PlannedStep[] }>> {
    const result = [];
    for (const ca of cas) {
      const facts = await factsOf(ca);
      result.push({ facts, steps: planRotation(facts, options.schedule, now()) });
    }
    return result;
  }

  async function record(fence: RotationFence, generations: CaGeneration[], step: RotationStep, data: Record<string, unknown>): Promise<void> {
    await options.store.recordCaGenerations({
      generations,
      fence,
      event: { type: 'ca.rotated', actor: options.actor, data: { step: step.kind, ca: step.ca, generation: step.generation, ...data } },
    });
    options.onProgress?.('step-recorded', step);
  }

  function rowOf(facts: CaFacts, generation: number): CaGeneration {
    const row = facts.generations.find((candidate) => candidate.generation === generation);
    if (row === undefined) throw new JitcaError(ErrorCodes.ROTATION_REFUSED, `${facts.ca} has no generation ${generation}`);
    return row;
  }

  /** Performs one planned step; every branch writes its rows with one audit record under the fence. */
  async function perform(fence: RotationFence, facts: CaFacts, step: RotationStep, audit: Record<string, unknown>): Promise<void> {
    const at = now().toISOString();
    const slot = { caName: options.caNames[step.ca], generation: step.generation };
    switch (step.kind) {
      case 'generate':
      case 'adopt': {
        const signer = step.kind === 'generate' ? await options.keys.createKey(slot, options.algorithms[step.ca]) : options.keys.requireSigner(slot);
        if (step.kind === 'generate') options.onProgress?.('key-generated', step);
        await options.publishGeneration?.(step.ca, step.generation, signer);
        const row: CaGeneration = {
          ca: step.ca,
          generation: step.generation,
          state: 'next',
          keyId: signer.keyId,
          algorithm: keyAlgorithmName(signer.algorithm),
          publicKey: Buffer.from(signer.spki).toString('base64'),
          createdAt: at,
        };
        await record(fence, [row], step, { keyId: signer.keyId, ...audit });
        return;
      }
      case 'promote': {
        const next = rowOf(facts, step.generation);
        const active = facts.generations.filter((generation) => generation.state === 'active');
        const demoted = active.map((generation): CaGeneration => ({ ...generation, state: 'retiring', retiringAt: at }));
        await record(fence, [...demoted, { ...next, state: 'active', activatedAt: at }], step, { replaces: active.map((g) => g.generation), ...audit });
        return;
      }
      case 'retire': {
        const retiring = rowOf(facts, step.generation);
        await record(fence, [{ ...retiring, state: 'retired', retiredAt: at }], step, audit);
        return;
      }
    }
  }

  /** Destroys the keys of retired generations that still have one (only with --destroy; row first, so a crash here leaves a retired row and its key). */
  async function destroyRetiredKeys(fence: RotationFence, ca: CaKind): Promise<void> {
    const facts = await factsOf(ca);
    for (const retired of facts.generations.filter((generation) => generation.state === 'retired')) {
      const slot = { caName: options.caNames[ca], generation: retired.generation };
      if (options.keys.signer(slot) === undefined) continue;
      options.keys.destroy(slot);
      await options.store.recordCaGenerations({
        generations: [retired],
        fence,
        event: { type: 'ca.rotated', actor: options.actor, data: { step: 'destroy', ca, generation: retired.generation, keyId: retired.keyId } },
      });
    }
  }

  async function ensurePublished(ca: CaKind): Promise<void> {
    if (options.publishGeneration === undefined) return;
    const rows = await options.store.listCaGenerations();
    for (const row of rows.filter((generation) => generation.ca === ca && generation.state !== 'retired')) {
      const signer = options.keys.signer({ caName: options.caNames[ca], generation: row.generation });
      if (signer !== undefined) await options.publishGeneration(ca, row.generation, signer);
    }
  }

  return {
    plan,

    /** Every due step (or, with force, one step; with emergency, the emergency sequence) under the lock. */
    async apply(cas: readonly CaKind[], applyOptions: ApplyOptions = {}): Promise<TakenStep[]> {
      return withRotationLock(options.store, options.clock, options.lockWaitMs ?? 5_000, async (fence) => {
        const taken: TakenStep[] = [];
        for (const ca of cas) {
          if (applyOptions.emergency !== undefined) {
            taken.push(...(await emergency(fence, ca, applyOptions.emergency.reason)));
          } else {
            let forcedLeft = applyOptions.force === true;
            for (let i = 0; i < MAX_STEPS_PER_APPLY; i++) {
              const facts = await factsOf(ca);
              const planned = planRotation(facts, options.schedule, now());
              const due = planned.find((entry) => entry.ready);
              const step = due?.step ?? (forcedLeft ? forcedStep(facts, options.schedule, now()) : undefined);
              if (step === undefined) break;
              const forced = due === undefined;
              if (forced) forcedLeft = false;
              await perform(fence, facts, step, { forced, ...(step.kind === 'promote' ? { readiness: facts.readiness?.detail } : {}) });
              taken.push({ step, forced });
            }
          }
          if (applyOptions.destroy === true) await destroyRetiredKeys(fence, ca);
          await ensurePublished(ca);
        }
        return taken;
      });
    },

    /** Re-activates the newest retiring generation; the active one goes back to `next`. */
    async rollback(ca: CaKind): Promise<TakenStep> {
      return withRotationLock(options.store, options.clock, options.lockWaitMs ?? 5_000, async (fence) => {
        const target = rollbackTarget((await factsOf(ca)).generations);
        if (target === undefined) {
          throw new JitcaError(ErrorCodes.ROTATION_REFUSED, `${ca} has no retiring generation to roll back to (only a generation still trusted can sign again)`, { details: { ca } });
        }
        const at = now().toISOString();
        const step: RotationStep = { kind: 'promote', ca, generation: target.restore.generation, replaces: target.demote.generation };
        const { retiringAt: _retiringAt, ...restored } = target.restore;
        const { activatedAt: _activatedAt, ...demoted } = target.demote;
        await options.store.recordCaGenerations({
          generations: [{ ...demoted, state: 'next', createdAt: at }, { ...restored, state: 'active', activatedAt: at }],
          fence,
          event: { type: 'ca.rotated', actor: options.actor, data: { step: 'rollback', ca, generation: target.restore.generation, replaces: target.demote.generation } },
        });
        return { step, forced: true };
      });
    },
  };

  /** Generate (unless a next exists), promote it and retire the compromised active generation at once, all audited with the reason. */
  async function emergency(fence: RotationFence, ca: CaKind, reason: string): Promise<TakenStep[]> {
    const taken: TakenStep[] = [];
    let facts = await factsOf(ca);
    const compromised = facts.generations.find((generation) => generation.state === 'active');
    if (compromised === undefined) throw new JitcaError(ErrorCodes.ROTATION_REFUSED, `${ca} has no active generation to replace`, { details: { ca } });
    const audit = { forced: true, emergency: true, reason, compromised: compromised.generation };
    let next = facts.generations.find((generation) => generation.state === 'next');
    if (next === undefined) {
      const pending = facts.keysWithoutRow[0];
      const step: RotationStep =
        pending === undefined ? { kind: 'generate', ca, generation: Math.max(0, ...facts.generations.map((g) => g.generation)) + 1 } : { kind: 'adopt', ca, generation: pending };
      await perform(fence, facts, step, audit);
      taken.push({ step, forced: true });
      facts = await factsOf(ca);
      next = facts.generations.find((generation) => generation.state === 'next')!;
    }
    const at = now().toISOString();
    const promote: RotationStep = { kind: 'promote', ca, generation: next.generation, replaces: compromised.generation };
    // One transaction: the new generation signs and the compromised one is trusted by nobody.
    await record(fence, [{ ...compromised, state: 'retired', retiringAt: at, retiredAt: at }, { ...next, state: 'active', activatedAt: at }], promote, audit);
    taken.push({ step: promote, forced: true }, { step: { kind: 'retire', ca, generation: compromised.generation }, forced: true });
    return taken;
  }
}

export type RotationEngine = ReturnType<typeof createRotationEngine>;
