/**
 * Golden certificates: for a fixed clock, serial, request id, nonce and CA key, every signing path
 * (SSH issuance, SSH after manual approval, the X.509 API and the CSR signer) produces exactly the
 * bytes in test/issuance/golden/, and records exactly the rows and audit data there. They were
 * taken from the code before the issuing core existed; a refactor of the pipeline must not change
 * one byte of them.
 *
 * Ed25519 signatures are deterministic (RFC 8032), so with the CA keys fixed the only other
 * inputs are the randomness sources, pinned here: node:crypto's randomUUID (request ids, CSR
 * uids) and randomFillSync (the SSH nonce, drawn through src/ssh/random-pool.ts) draw from a
 * seeded stream, and randomSerial hands out
 * a fixed sequence. Nothing else is replaced: the store is real SQLite, the CSR path runs through
 * the controller against the Kubernetes API double.
 *
 * JITCA_WRITE_GOLDEN=1 writes a golden file that is missing; an existing one is never rewritten.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Signer } from '../../src/keys/signer.ts';
import { fixedClock } from '../../src/clock.ts';
import { approveRequest } from '../../src/issuance/approve-request.ts';
import { issueSshCertificate, type SshIssuanceContext } from '../../src/issuance/issue-ssh-certificate.ts';
import { issueX509ClientCertificate, type X509IssuanceContext } from '../../src/issuance/issue-x509-certificate.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { Identity, Policy } from '../../src/policy/types.ts';
import { openStore } from '../../src/store/store.ts';
import type { Store } from '../../src/store/types.ts';
import { createCaCertificate } from '../../src/x509/ca-certificate.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { createCsrEnvironment, TOKENS, type CaFixture } from '../support/kube-csr-harness.ts';
import { buildEd25519Csr } from '../support/kube-der.ts';
import { createSeededEd25519Signer, ed25519KeyFromSeed } from '../support/memory-signer.ts';

const seeded = vi.hoisted(() => ({ uuidDraws: 0, fillDraws: 0, serials: 0 }));

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const stream = (label: string, draw: number, length: number): Buffer => {
    const out: Buffer[] = [];
    for (let block = 0; out.length * 32 < length; block += 1) {
      out.push(real.createHash('sha256').update(`${label}/${draw}/${block}`).digest());
    }
    return Buffer.concat(out).subarray(0, length);
  };
  const randomUUID = (): string => {
    const bytes = stream('uuid', seeded.uuidDraws++, 16);
    bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
    bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
  const randomFillSync = <T extends NodeJS.ArrayBufferView>(buffer: T): T => {
    const view = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    view.set(stream('fill', seeded.fillDraws++, view.length));
    return buffer;
  };
  return { ...real, default: { ...real, randomUUID, randomFillSync }, randomUUID, randomFillSync };
});

// The SSH nonce's pool, one draw of the seeded stream per nonce, as the unpooled code drew it.
vi.mock('../../src/ssh/random-pool.ts', async () => {
  const { randomFillSync } = await import('node:crypto');
  return { freshRandomBytes: (length: number): Uint8Array => randomFillSync(new Uint8Array(length)) };
});

vi.mock('../../src/issuance/serial.ts', () => ({
  randomSerial: (): bigint => 0x1f2e3d4c5b6a7988n + BigInt(seeded.serials++),
}));

const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));
/** 2026-05-28T20:26:40.250Z: a fraction of a second, so rounding differences would show. */
const NOW = 1_780_000_000_250;

function matchesGolden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (!existsSync(file) && process.env['JITCA_WRITE_GOLDEN'] === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

/** What a signing path leaves in the store, without the hash chain's own fields. */
async function recordsOf(store: Store, serial: string, requestId: string): Promise<string> {
  const certificate = await store.findCertificateBySerial(serial);
  const request = await store.getRequest(requestId);
  const audit = (await store.listAudit({ limit: 1000 })).map(({ seq: _seq, prevHash: _prev, hash: _hash, ...record }) => record);
  const { version: _version, ...requestRow } = request ?? {};
  return `${JSON.stringify({ certificate, request: requestRow, audit }, null, 2)}\n`;
}

function sshKeyLine(seed: number, comment: string): string {
  const spki = createPublicKeyDer(seed);
  const raw = spki.subarray(spki.length - 32);
  const field = (bytes: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')} ${comment}`;
}

function createPublicKeyDer(seed: number): Buffer {
  return Buffer.from(createSeededEd25519Signer(seed, 'subject').spki);
}

const sshCa = createSeededEd25519Signer(1, 'ssh-user-ca/1');
const kubeCaSigner = createSeededEd25519Signer(2, 'kube-client-ca/1');

async function kubeCaOf(signer: Signer): Promise<{ certificate: X509Certificate; certificatePem: string }> {
  const ca = await createCaCertificate({
    signer,
    commonName: 'jitca kubernetes client CA 1',
    notBefore: new Date(NOW - 86_400_000),
    notAfter: new Date(NOW + 365 * 86_400_000),
    serial: 0x51n,
  });
  return { certificate: new X509Certificate(ca.der), certificatePem: ca.pem };
}

/**
 * The wiring of each path to the fixed inputs: the only part of this file that follows the shape
 * of the issuance contexts.
 */
function sshContext(policy: Policy, store: Store): SshIssuanceContext {
  return { policy, store, activeSigner: () => sshCa, clock: fixedClock(NOW), backdateSeconds: 60 };
}

async function x509Context(policy: Policy, store: Store): Promise<X509IssuanceContext> {
  const kubeCa = { signer: kubeCaSigner, ...(await kubeCaOf(kubeCaSigner)) };
  return {
    policy,
    store,
    activeCa: () => kubeCa,
    clock: fixedClock(NOW),
    signerName: 'jitca.dev/debug-client',
    backdateSeconds: 60,
  };
}

async function csrFixture(): Promise<CaFixture> {
  const { certificate, certificatePem } = await kubeCaOf(kubeCaSigner);
  return { dir: '', token: undefined as never, signer: kubeCaSigner, caPem: certificatePem, caCertificate: certificate, close: () => undefined };
}

const alice: Identity = { subject: 'alice', groups: ['oncall-payments'], via: 'oidc' };

describe('golden certificates: the same bytes for the same clock, serial and key', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    seeded.uuidDraws = 0;
    seeded.fillDraws = 0;
    seeded.serials = 0;
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-golden-'));
    store = await openStore({ sqlitePath: path.join(dir, 'jitca.sqlite'), clock: fixedClock(NOW) });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SSH issuance', async () => {
    const policy = parsePolicy(JSON.stringify(testPolicy));
    const result = await issueSshCertificate(sshContext(policy, store), alice, {
      publicKey: sshKeyLine(7, 'alice@laptop'),
      role: 'oncall-payments',
      ttlSeconds: 1200,
      scope: { cluster: 'prod', namespace: 'payments' },
      reason: 'golden',
    });
    if (result.status !== 'issued') throw new Error(`expected issued, got ${result.status}`);
    matchesGolden('ssh-issued.cert', `${result.certificate}\n`);
    matchesGolden('ssh-issued.records.json', await recordsOf(store, result.serial, result.requestId));
    expect(result.validAfter.toISOString()).toBe('2026-05-28T20:25:40.000Z');
    expect(result.validBefore.toISOString()).toBe('2026-05-28T20:46:40.000Z');
  });

  it('SSH issuance after two manual approvals', async () => {
    const policy = parsePolicy(JSON.stringify(testPolicy));
    const context = sshContext(policy, store);
    const sam: Identity = { subject: 'sam', groups: ['sre'], via: 'oidc' };
    const pending = await issueSshCertificate(context, sam, { publicKey: sshKeyLine(8, 'sam@laptop'), role: 'break-glass', ttlSeconds: 600, scope: { namespace: 'payments' }, reason: 'golden' });
    if (pending.status !== 'pending') throw new Error(`expected pending, got ${pending.status}`);
    await approveRequest(context, { subject: 'lee', groups: ['sre-leads'], via: 'oidc' }, pending.requestId, 'first');
    const result = await approveRequest(context, { subject: 'kim', groups: ['sre-leads'], via: 'oidc' }, pending.requestId, 'second');
    if (result.status !== 'issued') throw new Error(`expected issued, got ${result.status}`);
    matchesGolden('ssh-approved.cert', `${result.certificate}\n`);
    matchesGolden('ssh-approved.records.json', await recordsOf(store, result.serial, result.requestId));
  });

  it('X.509 API', async () => {
    const policy = parsePolicy(JSON.stringify(testPolicy));
    const csr = buildEd25519Csr('ignored', [], ed25519KeyFromSeed(9));
    const result = await issueX509ClientCertificate(await x509Context(policy, store), alice, {
      csr: csr.pem,
      ttlSeconds: 1200,
      scope: { cluster: 'prod', namespace: 'payments' },
    });
    matchesGolden('x509-api.pem', result.certificate);
    const certificate = await store.findCertificateBySerial(result.serial);
    // The recorded validity is checked against the certificate itself in x509-validity.test.ts.
    const { validAfter: _after, validBefore: _before, ...row } = certificate ?? {};
    const audit = (await store.listAudit({ limit: 1000 })).map(({ seq: _seq, prevHash: _prev, hash: _hash, ...record }) => record);
    matchesGolden('x509-api.records.json', `${JSON.stringify({ certificate: row, request: await requestWithoutVersion(store, result.requestId), audit }, null, 2)}\n`);
  });

  it('CSR signer (through the controller)', async () => {
    const env = await createCsrEnvironment(await csrFixture(), { clock: fixedClock(NOW) });
    try {
      const controller = await env.startController({ clusterName: 'prod', instanceId: 'golden-instance' });
      const csr = buildEd25519Csr('alice', ['jit:oncall:payments'], ed25519KeyFromSeed(10));
      const created = env.submit(TOKENS.alice, { name: 'alice-golden', pem: csr.pem, expirationSeconds: 1200, usages: ['client auth', 'digital signature'] });
      const pem = await env.waitForCertificate('alice-golden');
      await controller.stop();
      matchesGolden('csr-signer.pem', pem);
      const serial = BigInt(`0x${new X509Certificate(pem).serialNumber}`).toString();
      const requestId = `k8s-csr/${created.metadata.uid}`;
      const records = JSON.parse(await recordsOf(env.store, serial, requestId)) as { request: Record<string, unknown>; audit: Array<Record<string, unknown>> };
      // createdAt comes from the API double's creationTimestamp (wall clock), not from jitca.
      delete records.request['createdAt'];
      matchesGolden('csr-signer.records.json', `${JSON.stringify(records, null, 2)}\n`);
    } finally {
      await env.close();
    }
  });
});

async function requestWithoutVersion(store: Store, requestId: string): Promise<Record<string, unknown>> {
  const { version: _version, ...row } = (await store.getRequest(requestId)) ?? {};
  return row;
}
