import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TOKENS, createCaFixture, createCsrEnvironment, type CaFixture, type CsrEnvironment } from '../support/kube-csr-harness.ts';
import { buildEd25519Csr } from '../support/kube-der.ts';

let ca: CaFixture;
let env: CsrEnvironment;

beforeAll(async () => {
  ca = await createCaFixture();
});
afterAll(() => ca.close());
beforeEach(async () => {
  env = await createCsrEnvironment(ca);
});
afterEach(async () => {
  await env.close();
});

function submitAlice(name: string): void {
  env.submit(TOKENS.alice, { name, pem: buildEd25519Csr('alice', ['jit:oncall:payments']).pem });
}

describe('watch interruptions', () => {
  it.each<['reset' | 'end']>([['reset'], ['end']])(
    'after a dropped watch (%s) it resumes from its last resourceVersion and handles CSRs created meanwhile, without listing again',
    async (mode) => {
      const controller = await env.startController();
      submitAlice('before');
      await env.waitForCertificate('before');
      await env.double.waitFor(() => env.double.openWatches === 1, 5000, 'the watch');
      env.double.bookmark(); // a BOOKMARK is a resourceVersion, not an object
      const lastSeen = String(env.double.resourceVersion);
      await env.double.waitFor(() => controller.stats().informer.resourceVersion === lastSeen, 5000, 'the controller to see everything');

      expect(env.double.dropWatches(mode)).toBe(1);
      submitAlice('while-down-1');
      submitAlice('while-down-2');

      await env.waitForCertificate('while-down-1');
      await env.waitForCertificate('while-down-2');
      const rewatch = env.double.stats.watchRequests.at(-1);
      expect(rewatch).toMatchObject({ resourceVersion: lastSeen, allowWatchBookmarks: true });
      expect(env.double.stats.lists).toBe(1);
      expect(controller.stats().informer.lists).toBe(1);
      if (mode === 'reset') expect(controller.stats().informer.watchFailures).toBeGreaterThanOrEqual(1);
      for (const name of ['before', 'while-down-1', 'while-down-2']) expect(env.double.stats.certificateWrites.get(name)).toBe(1);
    },
  );

  it('re-lists when its resourceVersion was compacted away (410 Expired) and handles what it missed', async () => {
    const controller = await env.startController();
    await env.double.waitFor(() => env.double.openWatches === 1, 5000, 'the watch');
    env.double.dropWatches('reset');
    submitAlice('missed-1');
    submitAlice('missed-2');
    env.double.compact();

    await env.waitForCertificate('missed-1');
    await env.waitForCertificate('missed-2');
    expect(env.double.stats.expiredWatches).toBe(1);
    expect(env.double.stats.lists).toBe(2);
    expect(controller.stats().informer.expiredRelists).toBe(1);
    // The watch after the re-list starts from the list's resourceVersion.
    expect(Number(env.double.stats.watchRequests.at(-1)?.resourceVersion)).toBeGreaterThanOrEqual(env.double.resourceVersion - 4);
  });
});

describe('optimistic concurrency and apiserver faults', () => {
  it('retries an approval that met a concurrent update (409) once, on the re-read object', async () => {
    const controller = await env.startController();
    env.double.injectConflicts('approval', 1);
    submitAlice('conflicted');
    await env.waitForCertificate('conflicted');
    await controller.idle();
    expect(env.double.stats.conflicts).toBe(1);
    expect(env.double.stats.approvalWrites).toBe(1);
    expect(env.double.stats.certificateWrites.get('conflicted')).toBe(1);
    expect(env.double.get('conflicted')?.metadata.annotations?.['double.test/touched']).toBeDefined();
    expect(controller.stats()).toMatchObject({ approved: 1, signed: 1, retries: 0 });
  });

  it('retries a certificate write that met a concurrent update (409) without signing again', async () => {
    const controller = await env.startController();
    env.double.injectConflicts('status', 1);
    submitAlice('status-conflict');
    await env.waitForCertificate('status-conflict');
    await controller.idle();
    expect(env.double.stats.conflicts).toBe(1);
    expect(controller.stats()).toMatchObject({ signed: 1, certificatesWritten: 1 });
  });

  it('after failed certificate writes (500) writes the recorded certificate, never a second signature', async () => {
    const controller = await env.startController();
    env.double.failNext('status', 2);
    submitAlice('flaky');
    const pem = await env.waitForCertificate('flaky');
    await controller.idle();
    expect(controller.stats()).toMatchObject({ signed: 1, certificatesFromStore: 2, certificatesWritten: 1, retries: 2 });
    const signed = (await env.store.listAudit({ limit: 1000 })).filter((record) => record.type === 'csr.signed');
    expect(signed).toHaveLength(1);
    expect((await env.store.findCertificateBySerial(String(signed[0]?.data['serial'])))?.certificate).toBe(pem);
  });
});
