/**
 * The issuing core as its callers see it: one validity rule (whole seconds, what the certificate
 * says), the active CA generation asked for per certificate (a rotation needs no restart), and one
 * serial-retry loop. Real SQLite store, real codecs; the CA keys are memory signers.
 */
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Signer } from '../../src/keys/signer.ts';
import { fixedClock } from '../../src/clock.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { issueSshCertificate, type SshIssuanceContext } from '../../src/issuance/issue-ssh-certificate.ts';
import { issueX509ClientCertificate, type X509IssuanceContext } from '../../src/issuance/issue-x509-certificate.ts';
import { validityWindow } from '../../src/issuance/issuing-core.ts';
import type { KubeClientCa } from '../../src/issuance/kube-client-ca.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { Identity } from '../../src/policy/types.ts';
import { parseCertificate } from '../../src/ssh/certificate.ts';
import { openStore } from '../../src/store/store.ts';
import type { Store } from '../../src/store/types.ts';
import { createCaCertificate } from '../../src/x509/ca-certificate.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { buildEd25519Csr } from '../support/kube-der.ts';
import { createMemorySigner } from '../support/memory-signer.ts';
import { formatAuthorizedKeysLine, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';

/** Serials handed out in this order when queued; fresh random ones otherwise. */
const serials = vi.hoisted(() => ({ queue: [] as bigint[] }));
vi.mock('../../src/issuance/serial.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/issuance/serial.ts')>();
  return { randomSerial: (): bigint => serials.queue.shift() ?? real.randomSerial() };
});

/** 2026-05-28T20:26:40.250Z: a fraction of a second. */
const NOW = 1_780_000_000_250;
const alice: Identity = { subject: 'alice', groups: ['oncall-payments'], via: 'oidc' };
const policy = parsePolicy(JSON.stringify(testPolicy));

function sshKeyLine(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  return formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(publicKey));
}

async function kubeCaOf(signer: Signer): Promise<KubeClientCa> {
  const ca = await createCaCertificate({
    signer,
    commonName: `jitca kubernetes client CA ${signer.keyId}`,
    notBefore: new Date(NOW - 86_400_000),
    notAfter: new Date(NOW + 30 * 86_400_000),
    serial: 7n,
  });
  return { signer, certificate: new X509Certificate(ca.der), certificatePem: ca.pem };
}

describe('issuing core', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    serials.queue = [];
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-core-'));
    store = await openStore({ sqlitePath: path.join(dir, 'jitca.sqlite'), clock: fixedClock(NOW) });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one validity rule: whole seconds, backdated, the lifetime counted from this second', () => {
    expect(validityWindow(NOW, 60, 1200)).toEqual({ notBefore: new Date('2026-05-28T20:25:40.000Z'), notAfter: new Date('2026-05-28T20:46:40.000Z') });
    expect(validityWindow(NOW + 749, 0, 1)).toEqual({ notBefore: new Date('2026-05-28T20:26:40.000Z'), notAfter: new Date('2026-05-28T20:26:41.000Z') });
  });

  it('the X.509 API returns and records the validity the certificate carries, not a time with milliseconds', async () => {
    const kubeCa = await kubeCaOf(createMemorySigner({ kind: 'ed25519' }, 'kube-client-ca/1'));
    const context: X509IssuanceContext = { policy, store, activeCa: () => kubeCa, clock: fixedClock(NOW), signerName: 'jitca.dev/debug-client', backdateSeconds: 60 };
    const result = await issueX509ClientCertificate(context, alice, { csr: buildEd25519Csr('alice').pem, ttlSeconds: 1200 });
    const certificate = new X509Certificate(result.certificate);
    expect(result.notBefore.toISOString()).toBe(certificate.validFromDate.toISOString());
    expect(result.notAfter.toISOString()).toBe(certificate.validToDate.toISOString());
    const row = await store.findCertificateBySerial(result.serial);
    expect(row?.validAfter).toBe(certificate.validFromDate.toISOString());
    expect(row?.validBefore).toBe(certificate.validToDate.toISOString());
    const audit = (await store.listAudit()).find((record) => record.type === 'x509.issued');
    expect(audit?.data['notAfter']).toBe(certificate.validToDate.toISOString());
  });

  it('SSH: a rotated active generation signs the next certificate, without a new context', async () => {
    const generations = [createMemorySigner({ kind: 'ed25519' }, 'ssh-user-ca/1'), createMemorySigner({ kind: 'ecdsa', curve: 'P-256' }, 'ssh-user-ca/2')];
    let active = generations[0] as Signer;
    const context: SshIssuanceContext = { policy, store, activeSigner: () => active, clock: fixedClock(NOW), backdateSeconds: 60 };
    const request = { role: 'oncall-payments', scope: { cluster: 'prod', namespace: 'payments' } };
    const first = await issueSshCertificate(context, alice, { ...request, publicKey: sshKeyLine() });
    active = generations[1] as Signer;
    const second = await issueSshCertificate(context, alice, { ...request, publicKey: sshKeyLine() });
    if (first.status !== 'issued' || second.status !== 'issued') throw new Error('expected both issued');
    const [one, two] = [parseCertificate(first.certificate), parseCertificate(second.certificate)];
    expect(one.signatureValid && two.signatureValid).toBe(true);
    expect(one.signatureKey.type).toBe('ssh-ed25519');
    expect(two.signatureKey.type).toBe('ecdsa-sha2-nistp256');
    expect((await store.findCertificateBySerial(first.serial))?.caKeyId).toBe('ssh-user-ca/1');
    expect((await store.findCertificateBySerial(second.serial))?.caKeyId).toBe('ssh-user-ca/2');
  });

  it('X.509: a rotated active generation signs the next certificate, and the reply carries that generation\'s CA certificate', async () => {
    const generations = [
      await kubeCaOf(createMemorySigner({ kind: 'ed25519' }, 'kube-client-ca/1')),
      await kubeCaOf(createMemorySigner({ kind: 'ed25519' }, 'kube-client-ca/2')),
    ];
    let active = generations[0] as KubeClientCa;
    const context: X509IssuanceContext = { policy, store, activeCa: () => active, clock: fixedClock(NOW), signerName: 'jitca.dev/debug-client', backdateSeconds: 60 };
    const first = await issueX509ClientCertificate(context, alice, { csr: buildEd25519Csr('alice').pem });
    active = generations[1] as KubeClientCa;
    const second = await issueX509ClientCertificate(context, alice, { csr: buildEd25519Csr('alice').pem });
    expect(new X509Certificate(first.certificate).verify(generations[0]!.signer.publicKey)).toBe(true);
    expect(new X509Certificate(second.certificate).verify(generations[1]!.signer.publicKey)).toBe(true);
    expect(new X509Certificate(second.certificate).verify(generations[0]!.signer.publicKey)).toBe(false);
    expect([first.caCertificatePem, second.caCertificatePem]).toEqual([generations[0]!.certificatePem, generations[1]!.certificatePem]);
    expect((await store.findCertificateBySerial(second.serial))?.caKeyId).toBe('kube-client-ca/2');
  });

  it('a serial already recorded is drawn again, and signed again with the new one; four in a row refuse with ERR_STORE_CONFLICT and record nothing', async () => {
    const signer = createMemorySigner({ kind: 'ed25519' }, 'ssh-user-ca/1');
    const context: SshIssuanceContext = { policy, store, activeSigner: () => signer, clock: fixedClock(NOW), backdateSeconds: 60 };
    const request = { role: 'oncall-payments', scope: { cluster: 'prod', namespace: 'payments' }, publicKey: sshKeyLine() };
    serials.queue = [101n];
    const taken = await issueSshCertificate(context, alice, request);
    serials.queue = [101n, 102n];
    const next = await issueSshCertificate(context, alice, request);
    if (taken.status !== 'issued' || next.status !== 'issued') throw new Error('expected both issued');
    expect([taken.serial, next.serial]).toEqual(['101', '102']);
    expect(parseCertificate(next.certificate).serial).toBe(102n);

    const before = (await store.listAudit()).length;
    serials.queue = [101n, 102n, 101n, 102n];
    await expect(issueSshCertificate(context, alice, request)).rejects.toMatchObject({ code: ErrorCodes.STORE_CONFLICT });
    expect((await store.listAudit()).length).toBe(before);
  });
});
