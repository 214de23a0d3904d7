/**
 * Promotion of the ssh-user CA waits for trust-sync's host reports as well as the overlap
 * (rotationEngineFor: both rules), and `apply --force` overrides them, audited as forced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { sshFingerprintOf } from '../../src/issuance/signed-trust-bundle.ts';
import { rotationEngineFor } from '../../rotation/rotation-composition.ts';
import type { RotationEngine } from '../../rotation/rotation-engine.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';

const DAY = 86_400_000;

describe('ssh-user promotion readiness from host reports', () => {
  let ca: CaFixture;
  let engine: RotationEngine;
  let clock: ReturnType<typeof fixedClock>;

  beforeAll(async () => {
    ca = await createCaFixture();
    clock = fixedClock(Date.parse((await ca.runtime.store.listCaGenerations()).find((row) => row.ca === 'ssh-user')!.activatedAt!));
    engine = rotationEngineFor({ ...ca.runtime, clock }, 'test', { lockWaitMs: 0 });
  });
  afterAll(async () => {
    await ca?.cleanup();
  });

  const report = async (host: string, installed: string[]): Promise<void> => {
    const lastSeen = new Date(clock.now()).toISOString();
    await ca.runtime.store.recordHostReport({ host, installed: installed.sort(), address: '127.0.0.1', lastSeen }, { maxHosts: 100, staleBeforeIso: new Date(0).toISOString() });
  };

  it('waits for every host seen to report the next generation, unless forced', async () => {
    clock.advance(83 * DAY);
    expect((await engine.apply(['ssh-user'])).map(({ step }) => step.kind)).toEqual(['generate']);
    const rows = (await ca.runtime.store.listCaGenerations()).filter((row) => row.ca === 'ssh-user');
    const [first, next] = [sshFingerprintOf(rows[0]!), sshFingerprintOf(rows[1]!)];

    clock.advance(7 * DAY);
    await report('web-1', [first, next]);
    await report('web-2', [first]);
    const [planned] = await engine.plan(['ssh-user']);
    const promote = planned!.steps.find((entry) => entry.step.kind === 'promote')!;
    expect(promote.ready).toBe(false);
    expect(promote.note).toContain('1 of 2 hosts');
    expect(planned!.facts.readiness?.hosts?.map((host) => [host.name, host.hasGeneration])).toEqual([
      ['web-1', true],
      ['web-2', false],
    ]);
    expect(await engine.apply(['ssh-user'])).toEqual([]);

    await report('web-2', [first, next]);
    expect((await engine.apply(['ssh-user'])).map(({ step, forced }) => [step.kind, forced])).toEqual([['promote', false]]);
  });

  it('lets --force promote with hosts missing, and audits it as forced', async () => {
    clock.advance(83 * DAY);
    expect((await engine.apply(['ssh-user'])).map(({ step }) => step.kind)).toEqual(['retire', 'generate']);
    clock.advance(7 * DAY);
    await report('web-3', []);
    expect(await engine.apply(['ssh-user'])).toEqual([]);
    expect((await engine.apply(['ssh-user'], { force: true })).map(({ step, forced }) => [step.kind, forced])).toEqual([['promote', true]]);
    const last = (await ca.runtime.store.listAudit()).filter((record) => record.type === 'ca.rotated').at(-1);
    expect(last?.data).toMatchObject({ step: 'promote', forced: true });
    expect(String(last?.data['readiness'])).toContain('web-3');
  });
});
