import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Signer } from '../../src/keys/signer.ts';
import { openWorkerStore } from '../../src/store/worker-store.ts';
import type { Store } from '../../src/store/types.ts';
import { TOKENS, createCaFixture, createCsrEnvironment, type CaFixture, type CsrEnvironment } from '../support/kube-csr-harness.ts';
import { buildEd25519Csr } from '../support/kube-der.ts';

let ca: CaFixture;
let env: CsrEnvironment;
let extraStores: Store[] = [];
/** Gates still closed when a test fails must open, or stopping the stuck controller never ends. */
let gates: Array<() => void> = [];

beforeAll(async () => {
  ca = await createCaFixture();
});
afterAll(() => ca.close());
beforeEach(async () => {
  env = await createCsrEnvironment(ca);
  extraStores = [];
  gates = [];
});
afterEach(async () => {
  for (const open of gates) open();
  for (const controller of env.controllers) await controller.stop();
  for (const store of extraStores) await store.close();
  await env.close();
});

function sqlitePath(): string {
  return path.join(env.dir, 'jitca.sqlite');
}

/** Counts rows straight from the database file, not through the code under test. */
function countRows(sql: string): number {
  const db = new Database(sqlitePath(), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function auditOf(type: string) {
  return (await env.store.listAudit({ limit: 10000 })).filter((record) => record.type === type);
}

/** The HSM CA signer, but each signature waits until release() (a claimant stuck mid-signing). */
function gatedSigner(inner: Signer): Signer & { release(): void; waiting(): number } {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let waiting = 0;
  gates.push(() => open());
  return {
    keyId: inner.keyId,
    algorithm: inner.algorithm,
    publicKey: inner.publicKey,
    spki: inner.spki,
    async sign(data, options) {
      waiting += 1;
      await gate;
      return inner.sign(data, options);
    },
    release: () => open(),
    waiting: () => waiting,
  };
}

/**
 * Instance B's first read of each recorded decision comes back empty (as from a lagging read
 * replica): B must retry rather than act on a claim it cannot see.
 */
function withStaleFirstRead(store: Store): Store {
  const seen = new Set<string>();
  return {
    ...store,
    getRequest: async (id) => {
      if (seen.has(id)) return store.getRequest(id);
      seen.add(id);
      return undefined;
    },
  };
}

describe('two controller instances, one store', () => {
  it.each([
    ['both reading the store as it is', false],
    ['even when the second one’s first read of each claim comes back empty', true],
  ])('sign each of 50 CSRs exactly once, %s', async (_name, stale) => {
    const names = Array.from({ length: 50 }, (_, i) => `csr-${String(i).padStart(2, '0')}`);
    for (const name of names) env.submit(TOKENS.alice, { name, pem: buildEd25519Csr('alice', ['jit:oncall:payments']).pem });

    // Instance B has its own database connection on its own thread, as a second process would.
    const workerStore = await openWorkerStore({ sqlitePath: sqlitePath() });
    extraStores.push(workerStore);
    const storeB = stale ? withStaleFirstRead(workerStore) : workerStore;
    const [a, b] = await Promise.all([
      env.startController({ instanceId: 'instance-a', concurrency: 8 }),
      env.startController({ instanceId: 'instance-b', concurrency: 8, store: storeB }),
    ]);
    await Promise.all(names.map((name) => env.waitForCertificate(name, 20_000)));
    await Promise.all([a.idle(), b.idle()]);

    // Both instances decide every CSR they see; the store's unique claim row picks one.
    expect(a.stats().claimsLost + b.stats().claimsLost).toBeGreaterThan(0);
    if (stale) expect(b.stats().retries).toBeGreaterThan(0);
    for (const name of names) expect(env.double.stats.certificateWrites.get(name)).toBe(1);
    expect(env.double.stats.certificateOverwritesRefused).toBe(0);
    expect(countRows('select count(*) as n from certificates')).toBe(50);
    expect(countRows("select count(*) as n from approvals where approver = 'jitca-csr-controller'")).toBe(50);
    expect(a.stats().signed + b.stats().signed).toBe(50);
    expect(a.stats().approved + b.stats().approved).toBe(50);
    const signed = await auditOf('csr.signed');
    expect(signed).toHaveLength(50);
    expect(new Set(signed.map((record) => record.data['csr'])).size).toBe(50);
    expect(await auditOf('csr.approved')).toHaveLength(50);
    for (const name of names) {
      const serial = signed.find((record) => record.data['csr'] === name)?.data['serial'];
      expect((await env.store.findCertificateBySerial(String(serial)))?.certificate).toBe(env.certificateOf(name));
    }
    expect(await env.store.verifyAudit()).toMatchObject({ ok: true });
  });
});

describe('a claimant that stops half-way', () => {
  it('crashed after recording the certificate: the next instance writes the SAME certificate, no new signature', async () => {
    env.double.failNext('status', 1_000_000);
    const a = await env.startController({ instanceId: 'crashing', leaseSeconds: 1 });
    env.submit(TOKENS.alice, { name: 'half-done', pem: buildEd25519Csr('alice', ['oncall-payments']).pem });
    await env.double.waitFor(() => a.stats().signed === 1 && a.stats().retries >= 1, 10_000, 'a signed but unwritten certificate');
    await a.stop();
    env.double.clearInjections();
    const recorded = (await auditOf('csr.signed'))[0];
    const stored = await env.store.findCertificateBySerial(String(recorded?.data['serial']));
    expect(env.certificateOf('half-done')).toBeUndefined();

    await new Promise((resolve) => setTimeout(resolve, 1100)); // the claim's lease runs out
    const b = await env.startController({ instanceId: 'recovering' });
    const pem = await env.waitForCertificate('half-done');
    await b.idle();
    expect(pem).toBe(stored?.certificate);
    expect(b.stats()).toMatchObject({ signed: 0, certificatesFromStore: 1, certificatesWritten: 1, approved: 0 });
    expect(await auditOf('csr.signed')).toHaveLength(1);
    expect(countRows('select count(*) as n from certificates')).toBe(1);
  });

  it('a live claimant keeps the CSR while its lease runs: another instance does nothing meanwhile', async () => {
    const gated = gatedSigner(ca.signer);
    const a = await env.startController({ instanceId: 'slow', activeCa: () => ({ signer: gated, certificate: ca.caCertificate }), leaseSeconds: 30 });
    env.submit(TOKENS.alice, { name: 'slow-one', pem: buildEd25519Csr('alice', ['oncall-payments']).pem });
    await env.double.waitFor(() => gated.waiting() === 1, 10_000, 'the slow claimant to start signing');
    const b = await env.startController({ instanceId: 'patient' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await b.idle();
    // B decided too, but the store refused its claim: it waits for A's lease instead of acting.
    expect(b.stats()).toMatchObject({ signed: 0, approved: 0, certificatesWritten: 0, claimsLost: 1 });
    gated.release();
    await env.waitForCertificate('slow-one');
    await a.idle();
    expect(a.stats()).toMatchObject({ signed: 1, certificatesWritten: 1 });
    expect(env.double.stats.certificateWrites.get('slow-one')).toBe(1);
  });

  it('a claimant stuck past its lease: the next instance signs with the claimed serial, and the late one releases nothing of its own', async () => {
    const gated = gatedSigner(ca.signer);
    const a = await env.startController({ instanceId: 'stuck', activeCa: () => ({ signer: gated, certificate: ca.caCertificate }), leaseSeconds: 1 });
    env.submit(TOKENS.alice, { name: 'taken-over', pem: buildEd25519Csr('alice', ['oncall-payments']).pem });
    await env.double.waitFor(() => gated.waiting() === 1, 10_000, 'the stuck claimant to start signing');
    const claimed = (await auditOf('csr.approved'))[0]?.data['serial'];

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const b = await env.startController({ instanceId: 'taking-over' });
    env.double.touch('taken-over'); // any event makes B look at the CSR again
    const pem = await env.waitForCertificate('taken-over');
    await b.idle();
    expect(b.stats()).toMatchObject({ signed: 1, certificatesWritten: 1 });

    gated.release(); // the stuck signature completes; its record conflicts on the serial
    await env.double.waitFor(() => a.stats().certificatesFromStore === 1, 10_000, 'the stuck claimant to give up its certificate');
    await a.idle();
    expect(a.stats()).toMatchObject({ signed: 0, certificatesWritten: 0 });
    expect(env.certificateOf('taken-over')).toBe(pem);
    expect(env.double.stats.certificateWrites.get('taken-over')).toBe(1);
    expect(env.double.stats.certificateOverwritesRefused).toBe(0);
    const signed = await auditOf('csr.signed');
    expect(signed).toHaveLength(1);
    expect(signed[0]?.data['serial']).toBe(claimed);
    expect(countRows('select count(*) as n from certificates')).toBe(1);
  });
});
