import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { sshFingerprintOf } from '../../src/issuance/signed-trust-bundle.ts';
import type { HostReport } from '../../src/store/types.ts';
import { createHostReadiness, decideHostReadiness, hostReadinessForStatus } from '../../rotation/host-readiness.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { addNextSshGeneration } from '../support/ca-generations.ts';

const NEXT = `SHA256:${'N'.repeat(43)}`;
const OLD = `SHA256:${'O'.repeat(43)}`;
const host = (name: string, installed: string[]): HostReport => ({ host: name, installed, address: '192.0.2.1', lastSeen: '2026-01-01T00:00:00.000Z' });

describe('decideHostReadiness (pure)', () => {
  const all = { readyShare: 1, windowHours: 24 };

  it('is not ready while one host seen lacks the next fingerprint, and names it', () => {
    const verdict = decideHostReadiness([host('a', [OLD, NEXT]), host('b', [OLD])], NEXT, all);
    expect(verdict.ready).toBe(false);
    expect(verdict.detail).toBe(`1 of 2 hosts seen in the last 24 h have ${NEXT} (2 needed); waiting for b`);
    expect(verdict.hosts?.map((row) => [row.name, row.hasGeneration])).toEqual([['a', true], ['b', false]]);
  });

  it('is ready when every host has it', () => {
    expect(decideHostReadiness([host('a', [NEXT]), host('b', [OLD, NEXT])], NEXT, all).ready).toBe(true);
  });

  it('counts whole hosts against the share: 7 of 100 meet 7 % (0.07 * 100 is 7.000000000000001 in floating point), 6 do not; 0 % waits for nobody', () => {
    const hosts = (withIt: number) => Array.from({ length: 100 }, (_, i) => host(`h${i}`, i < withIt ? [NEXT] : [OLD]));
    expect(decideHostReadiness(hosts(7), NEXT, { readyShare: 0.07, windowHours: 24 }).ready).toBe(true);
    expect(decideHostReadiness(hosts(6), NEXT, { readyShare: 0.07, windowHours: 24 }).ready).toBe(false);
    expect(decideHostReadiness(hosts(0), NEXT, { readyShare: 0, windowHours: 24 }).ready).toBe(true);
  });

  it('with no host seen in the window: ready, and says that nothing reported', () => {
    const verdict = decideHostReadiness([], NEXT, all);
    expect(verdict).toEqual({ ready: true, detail: 'no host reported within the last 24 h: nothing to wait for (hosts report with jitca trust-sync)', hosts: [] });
  });
});

describe('host readiness from what simulated hosts report through the API', () => {
  let ca: CaFixture;
  let app: FastifyInstance;

  beforeAll(async () => {
    ca = await createCaFixture();
    app = buildApp(ca.runtime, { authenticator: createApiAuthenticator(undefined, undefined), logger: false });
    await addNextSshGeneration(ca, 2);
  });
  afterAll(async () => {
    await app?.close();
    await ca?.cleanup();
  });

  const report = async (name: string, installed: string[]) => {
    const response = await app.inject({ method: 'GET', url: '/v1/trust/bundle.json', headers: { 'x-jitca-host': name, 'x-jitca-installed': installed.join(',') } });
    expect(response.statusCode).toBe(200);
  };

  it('blocks promotion until every host seen reports the next generation, and only counts hosts seen in the window', async () => {
    const [active, next] = ca.runtime.keyring.trusted('ssh-user');
    if (active === undefined || next === undefined) throw new Error('expected two generations');
    const readiness = createHostReadiness({ store: ca.runtime.store, settings: ca.config.hostReports });
    const now = () => new Date(ca.runtime.clock.now());

    await report('web-1', [sshFingerprintOf(active)]);
    await report('web-2', [sshFingerprintOf(active)]);
    expect((await readiness.check('ssh-user', next, now())).ready).toBe(false);

    await report('web-1', [sshFingerprintOf(active), sshFingerprintOf(next)]);
    const waiting = await readiness.check('ssh-user', next, now());
    expect(waiting).toMatchObject({ ready: false, detail: expect.stringContaining('waiting for web-2') });

    await report('web-2', [sshFingerprintOf(next), sshFingerprintOf(active)]);
    expect((await readiness.check('ssh-user', next, now())).ready).toBe(true);

    // A host that reported long ago and not since does not count: 25 h later nobody is in the window.
    const later = new Date(now().getTime() + 25 * 3_600_000);
    expect((await readiness.check('ssh-user', next, later)).detail).toMatch(/^no host reported/);

    expect((await hostReadinessForStatus(ca.runtime.store, ca.config.hostReports, next, now())).map((row) => [row.name, row.hasGeneration])).toEqual([
      ['web-1', true],
      ['web-2', true],
    ]);
  });
});
