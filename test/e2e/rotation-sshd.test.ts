/**
 * A whole SSH user CA rotation against one real sshd, the engine on a fake clock (issue 19):
 * generation 1's certificates keep working while generation 2 is next and after it is active, new
 * certificates come from generation 2, rollback re-activates generation 1 while it is trusted,
 * retirement drops generation 1 from the bundle (its certificates are refused), and an emergency
 * rotation makes the compromised generation's certificates fail at once. Certificates are issued
 * on the real clock (sshd checks their validity against it); only the schedule's clock is fake.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { issueSshCertificate } from '../../src/issuance/issue-ssh-certificate.ts';
import { sshTrustBundle } from '../../src/issuance/trust-bundle.ts';
import { createRotationEngine, type RotationEngine } from '../../rotation/rotation-engine.ts';
import { scheduleRotation } from '../../rotation/rotation-scheduler.ts';
import { timeBasedReadiness } from '../../rotation/time-readiness.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { codeOfAsync } from '../support/error-codes.ts';
import { startSshdTrusting, type SshdHandle } from '../support/sshd.ts';

const MINUTE = 60_000;
const schedule = { periodMs: 60 * MINUTE, overlapMs: 10 * MINUTE, skewMs: MINUTE };

describe('SSH user CA rotation against a real sshd', () => {
  let ca: CaFixture;
  let sshd: SshdHandle;
  let key: string;
  let engine: RotationEngine;
  let clock: ReturnType<typeof fixedClock>;

  beforeAll(async () => {
    ca = await createCaFixture();
    const { runtime } = ca;
    // The schedule starts when generation 1 became active (init, just now).
    clock = fixedClock(Date.parse((await runtime.store.listCaGenerations()).find((row) => row.ca === 'ssh-user')!.activatedAt!));
    engine = createRotationEngine({
      store: runtime.store,
      keys: runtime.keys,
      clock,
      actor: 'test',
      caNames: { 'ssh-user': runtime.config.ssh.caName, 'kube-client': runtime.config.kubernetes.caName },
      algorithms: { 'ssh-user': { kind: 'ed25519' }, 'kube-client': { kind: 'ecdsa', curve: 'P-256' } },
      readiness: { 'ssh-user': timeBasedReadiness(schedule.overlapMs), 'kube-client': timeBasedReadiness(schedule.overlapMs) },
      schedule,
      lockWaitMs: 0,
    });
    ({ sshd, key } = await startSshdTrusting(sshTrustBundle(runtime)));
  });

  afterAll(async () => {
    await sshd?.stop();
    await ca?.cleanup();
  });

  /** What trust-sync does after every state change: the keyring re-read, the bundle installed. */
  async function publish(): Promise<string> {
    await ca.runtime.keyring.refresh();
    const bundle = sshTrustBundle(ca.runtime);
    sshd.setTrustedCaKeys(bundle);
    return bundle;
  }

  async function issue(): Promise<{ file: string; caKeyId: string }> {
    const result = await issueSshCertificate(ca.runtime.sshIssuance, { subject: 'alice', groups: ['oncall-payments'], via: 'local-cli' }, {
      publicKey: readFileSync(`${key}.pub`, 'utf8'),
      role: 'oncall-payments',
      ttlSeconds: 600,
    });
    if (result.status !== 'issued') throw new Error(`expected issued, got ${result.status}`);
    const file = path.join(sshd.dir, `cert-${result.serial}.pub`);
    writeFileSync(file, `${result.certificate}\n`);
    const stored = await ca.runtime.store.findCertificateBySerial(result.serial);
    return { file, caKeyId: stored!.caKeyId };
  }

  const loginStatus = (certificate: string): number | null => sshd.login({ key, certificate }).status;
  const states = async (): Promise<string[]> =>
    (await ca.runtime.store.listCaGenerations()).filter((row) => row.ca === 'ssh-user').map((row) => `${row.generation}:${row.state}`);

  it('runs the cycle: next, promotion after the overlap, rollback, retirement, emergency', async () => {
    const first = await issue();
    expect(first.caKeyId).toBe('ssh-user-ca/1');
    expect(loginStatus(first.file)).toBe(0);

    // Nothing is due before period - overlap.
    expect(await engine.apply(['ssh-user'])).toEqual([]);

    clock.advance(50 * MINUTE);
    expect((await engine.apply(['ssh-user'])).map((taken) => taken.step.kind)).toEqual(['generate']);
    expect(await states()).toEqual(['1:active', '2:next']);
    expect(await publish()).toMatch(/jitca:ssh-user-ca\/1\n.*jitca:ssh-user-ca\/2\n$/s);
    expect(loginStatus(first.file)).toBe(0);
    expect((await issue()).caKeyId).toBe('ssh-user-ca/1');

    // The period is over, but next has been published for less than the overlap: not ready.
    clock.advance(9 * MINUTE + 59_000);
    const waiting = (await engine.plan(['ssh-user']))[0]!.steps.find((entry) => entry.step.kind === 'promote')!;
    expect(waiting.ready).toBe(false);
    expect(await engine.apply(['ssh-user'])).toEqual([]);

    clock.advance(1_000);
    expect((await engine.apply(['ssh-user'])).map((taken) => taken.step.kind)).toEqual(['promote']);
    expect(await states()).toEqual(['1:retiring', '2:active']);
    await publish();
    const second = await issue();
    expect(second.caKeyId).toBe('ssh-user-ca/2');
    expect(loginStatus(first.file)).toBe(0);
    expect(loginStatus(second.file)).toBe(0);

    // Rollback while generation 1 is still trusted: it signs again, 2 goes back to next, both published.
    expect((await engine.rollback('ssh-user')).step).toMatchObject({ kind: 'promote', generation: 1, replaces: 2 });
    expect(await states()).toEqual(['1:active', '2:next']);
    await publish();
    expect((await issue()).caKeyId).toBe('ssh-user-ca/1');
    expect(loginStatus(second.file)).toBe(0);
    expect(await codeOfAsync(engine.rollback('ssh-user'))).toBe(ErrorCodes.ROTATION_REFUSED);

    // Forward again by hand (forced: the schedule alone would wait for the period).
    expect(await engine.apply(['ssh-user'])).toEqual([]);
    expect(await engine.apply(['ssh-user'], { force: true })).toEqual([{ step: { kind: 'promote', ca: 'ssh-user', generation: 2, replaces: 1 }, forced: true }]);
    await publish();
    expect((await issue()).caKeyId).toBe('ssh-user-ca/2');

    // Generation 1's certificates (issued on the real clock) have expired on the schedule's clock:
    // retirement waits only for the skew allowance after it started retiring (rotation-plan.test.ts
    // has the case where a certificate outlives that).
    clock.advance(schedule.skewMs - 1_000);
    expect((await engine.apply(['ssh-user'])).map((taken) => taken.step.kind)).toEqual([]);
    clock.advance(1_000);
    expect((await engine.apply(['ssh-user'])).map((taken) => taken.step.kind)).toEqual(['retire']);
    expect(await states()).toEqual(['1:retired', '2:active']);
    const bundle = await publish();
    expect(bundle).not.toContain('ssh-user-ca/1');
    expect(loginStatus(first.file)).toBe(255);
    expect(loginStatus(second.file)).toBe(0);

    // Emergency: generation 2 compromised. A new generation signs at once and 2 is trusted by nobody.
    const taken = await engine.apply(['ssh-user'], { emergency: { reason: 'key leaked, INC-7' } });
    expect(taken.map((entry) => `${entry.step.kind}:${entry.step.generation}`)).toEqual(['generate:3', 'promote:3', 'retire:2']);
    expect(await states()).toEqual(['1:retired', '2:retired', '3:active']);
    await publish();
    expect(loginStatus(second.file)).toBe(255);
    const third = await issue();
    expect(third.caKeyId).toBe('ssh-user-ca/3');
    expect(loginStatus(third.file)).toBe(0);

    // Every step audited, the forced ones and the emergency's reason included.
    const audit = (await ca.runtime.store.listAudit()).filter((record) => record.type === 'ca.rotated').map((record) => record.data);
    expect(audit.map((data) => data['step'])).toEqual(['generate', 'promote', 'rollback', 'promote', 'retire', 'generate', 'promote']);
    expect(audit[3]).toMatchObject({ forced: true });
    expect(audit[6]).toMatchObject({ emergency: true, reason: 'key leaked, INC-7', compromised: 2 });
  });

  it('lets one of two applies at once act; the other exits with ERR_ROTATION_LOCKED', async () => {
    clock.advance(24 * 60 * MINUTE);
    const results = await Promise.allSettled([engine.apply(['ssh-user'], { force: true }), engine.apply(['ssh-user'], { force: true })]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((result) => result.status === 'rejected');
    expect((refused as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCodes.ROTATION_LOCKED });
    expect((await states()).filter((state) => state.endsWith(':active'))).toHaveLength(1);
  });

  it('serve\'s schedule applies a due step by itself and refreshes the keyring', async () => {
    clock.advance(schedule.periodMs);
    const logged: string[] = [];
    let changed!: () => void;
    const refreshed = new Promise<void>((resolve) => (changed = resolve));
    const scheduler = scheduleRotation(
      engine,
      async () => {
        await ca.runtime.keyring.refresh();
        changed();
      },
      { info: (_data, message) => logged.push(message), warn: (_data, message) => logged.push(message) },
      10,
    );
    try {
      await refreshed;
    } finally {
      await scheduler.stop();
    }
    expect(logged).toContain('CA rotation steps taken on schedule');
    expect(ca.runtime.keyring.trusted('ssh-user').map((generation) => generation.state)).toContain('next');
  });
});
