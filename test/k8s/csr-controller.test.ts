import { X509Certificate } from 'node:crypto';
import { CertificatesV1Api } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KUBE_APISERVER_CLIENT_SIGNER } from '../../src/policy/csr-evaluate.ts';
import type { AuditRecord } from '../../src/store/types.ts';
import { KubeStatusError } from '../support/kube-api-double.ts';
import { TOKENS, createCaFixture, createCsrEnvironment, type CaFixture, type CsrEnvironment } from '../support/kube-csr-harness.ts';
import { opensslCsr, opensslVerifyClient, withBrokenSignature, type OpensslKeyType } from '../support/kube-openssl.ts';

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

async function audit(type?: string): Promise<AuditRecord[]> {
  const records = await env.store.listAudit({ limit: 10000 });
  return type === undefined ? records : records.filter((record) => record.type === type);
}

/** Lets the controller see and settle everything the double has. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 150));
  for (const controller of env.controllers) await controller.idle();
}

describe('approving and signing with the HSM CA', () => {
  it.each<[OpensslKeyType]>([['ed25519'], ['p256'], ['rsa2048']])('signs an openssl %s CSR that openssl verify accepts as a client certificate', async (keyType) => {
    await env.startController();
    const csr = opensslCsr(env.dir, keyType, '/CN=alice/O=jit:oncall:payments');
    env.submit(TOKENS.alice, { name: `alice-${keyType}`, pem: csr.pem });

    const pem = await env.waitForCertificate(`alice-${keyType}`);
    const verified = opensslVerifyClient(env.dir, ca.caPem, pem);
    expect(verified.output).toContain(': OK');
    expect(verified.ok).toBe(true);

    const certificate = new X509Certificate(pem);
    expect(certificate.subject.split('\n').sort()).toEqual(['CN=alice', 'O=jit:oncall:payments']);
    const lifetime = (Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / 1000;
    expect(lifetime).toBe(1800 + 60); // the requested 1800 s plus 60 s backdating
    expect(env.conditionOf(`alice-${keyType}`, 'Approved')).toMatchObject({ status: 'True', reason: 'JitcaPolicy' });
    expect(env.double.stats.certificateWrites.get(`alice-${keyType}`)).toBe(1);

    // Audited before the API saw anything: approval, then the certificate with its row.
    const approved = await audit('csr.approved');
    const signed = await audit('csr.signed');
    expect(approved).toHaveLength(1);
    expect(signed).toHaveLength(1);
    expect(approved[0]!.seq).toBeLessThan(signed[0]!.seq);
    const serial = BigInt(`0x${certificate.serialNumber}`).toString();
    expect(signed[0]!.data).toMatchObject({ csr: `alice-${keyType}`, serial, rule: 'csr.allowed', role: 'oncall-payments' });
    const row = await env.store.findCertificateBySerial(serial);
    expect(row).toMatchObject({ kind: 'x509-client', identity: 'alice', principals: ['jit:oncall:payments'], certificate: pem, caKeyId: ca.signer.keyId });
    expect(await env.store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('issues jitca-signer certificates for the role maximum when the CSR asks for more or names no lifetime', async () => {
    await env.startController();
    env.submit(TOKENS.alice, { name: 'too-long', pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/O=oncall-payments').pem, expirationSeconds: 7200 });
    env.submit(TOKENS.alice, { name: 'no-lifetime', pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/O=oncall-payments').pem, expirationSeconds: null });
    for (const name of ['too-long', 'no-lifetime']) {
      const certificate = new X509Certificate(await env.waitForCertificate(name));
      expect((Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / 1000).toBe(1800 + 60);
    }
  });

  it('says in the Approved condition what it capped and ignored, and the certificate carries none of it', async () => {
    await env.startController();
    const csr = opensslCsr(env.dir, 'ed25519', '/CN=alice/OU=admins/O=oncall-payments', ['basicConstraints=critical,CA:TRUE', 'subjectAltName=DNS:kubernetes.default']);
    env.submit(TOKENS.alice, { name: 'changed', pem: csr.pem, expirationSeconds: 7200 });
    const certificate = new X509Certificate(await env.waitForCertificate('changed'));
    const approved = env.conditionOf('changed', 'Approved');
    expect(approved).toMatchObject({ status: 'True', reason: 'JitcaPolicy' });
    expect(approved?.message).toBe(
      'csr.allowed: role oncall-payments, lifetime 1800 s; expirationSeconds capped to 1800 (role maximum; requested 7200); ' +
        'requested extensions ignored: basicConstraints, subjectAltName; subject attributes ignored: OU',
    );
    expect(certificate.subject.split('\n').sort()).toEqual(['CN=alice', 'O=oncall-payments']);
    expect(certificate.ca).toBe(false);
    expect(certificate.subjectAltName).toBeUndefined();
    expect((Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / 1000).toBe(1800 + 60);
  });

  it('only approves kube-apiserver-client CSRs (kube-controller-manager signs them), and leaves them alone when that mode is off', async () => {
    const csr = opensslCsr(env.dir, 'ed25519', '/CN=alice/O=oncall-payments');
    env.submit(TOKENS.alice, { name: 'kube-client', pem: csr.pem, signerName: KUBE_APISERVER_CLIENT_SIGNER, expirationSeconds: 1800 });
    const off = await env.startController({ signerNames: { kubeApiserverClient: false } });
    await settle();
    expect(env.double.get('kube-client')?.status.conditions).toBeUndefined();
    await off.stop();

    await env.startController();
    expect(await env.waitForCondition('kube-client', 'Approved')).toMatchObject({ reason: 'JitcaPolicy' });
    await settle();
    expect(env.certificateOf('kube-client')).toBeUndefined();
    expect(await audit('csr.approved')).toHaveLength(1);
    expect(await audit('csr.signed')).toHaveLength(0);
  });

  it('leaves a manual-approval role’s CSR for a person, then signs once a cluster admin approved it', async () => {
    await env.startController();
    env.submit(TOKENS.sam, { name: 'sam-cluster-read', pem: opensslCsr(env.dir, 'p256', '/CN=sam/O=jit:oncall:cluster').pem });
    await settle();
    expect(env.double.get('sam-cluster-read')?.status).toEqual({});
    expect(await audit()).toHaveLength(0);

    const admin = env.double.kubeConfig(TOKENS.admin).makeApiClient(CertificatesV1Api);
    const current = await admin.readCertificateSigningRequest({ name: 'sam-cluster-read' });
    current.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'KubectlApprove', message: 'This CSR was approved by kubectl certificate approve.' }] };
    await admin.replaceCertificateSigningRequestApproval({ name: 'sam-cluster-read', body: current });

    const pem = await env.waitForCertificate('sam-cluster-read');
    expect(opensslVerifyClient(env.dir, ca.caPem, pem).ok).toBe(true);
    expect(new X509Certificate(pem).subject.split('\n').sort()).toEqual(['CN=sam', 'O=jit:oncall:cluster']);
    const [approved] = await audit('csr.approved');
    expect(approved?.data).toMatchObject({ approvedBy: 'kubernetes:KubectlApprove', rule: 'csr.manual-approval' });
  });

  it('refuses to sign what a person approved but the policy forbids (O=system:masters): Failed, nothing signed', async () => {
    env.submit(TOKENS.alice, { name: 'masters', pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/O=system:masters').pem });
    const admin = env.double.kubeConfig(TOKENS.admin).makeApiClient(CertificatesV1Api);
    const current = await admin.readCertificateSigningRequest({ name: 'masters' });
    current.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'KubectlApprove', message: 'approved by hand' }] };
    await admin.replaceCertificateSigningRequestApproval({ name: 'masters', body: current });

    await env.startController();
    expect(await env.waitForCondition('masters', 'Failed')).toMatchObject({ reason: 'JitcaSystemGroup' });
    expect(env.certificateOf('masters')).toBeUndefined();
    expect(await audit('csr.failed')).toHaveLength(1);
    expect(await audit('csr.signed')).toHaveLength(0);
  });

  it('does nothing again after a restart: no second signature, no second audit record', async () => {
    const first = await env.startController({ instanceId: 'first' });
    env.submit(TOKENS.alice, { name: 'once', pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/O=oncall-payments').pem });
    env.submit(TOKENS.bob, { name: 'denied-once', pem: opensslCsr(env.dir, 'ed25519', '/CN=bob').pem });
    await env.waitForCertificate('once');
    await env.waitForCondition('denied-once', 'Denied');
    await first.stop();
    const recordsBefore = (await audit()).length;
    const writesBefore = env.double.stats.approvalWrites + env.double.stats.statusWrites;

    const second = await env.startController({ instanceId: 'second' });
    await settle();
    expect((await audit()).length).toBe(recordsBefore);
    expect(env.double.stats.approvalWrites + env.double.stats.statusWrites).toBe(writesBefore);
    expect(second.stats()).toMatchObject({ approved: 0, denied: 0, signed: 0, certificatesWritten: 0 });
  });

  it('never logs tokens, keys or certificates', async () => {
    await env.startController();
    env.submit(TOKENS.alice, { name: 'logged', pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/O=oncall-payments').pem });
    await env.waitForCertificate('logged');
    await settle();
    const text = JSON.stringify(env.logs);
    expect(text).toContain('CSR signed');
    for (const secret of [TOKENS.controller, TOKENS.alice, 'BEGIN', 'PRIVATE']) expect(text).not.toContain(secret);
  });
});

describe('denying, each with its rule and nothing signed', () => {
  const cases: Array<[string, () => { token: string; pem: string; signerName?: string; usages?: string[]; expirationSeconds?: number }, string, string]> = [
    ['CN is not the requester', () => ({ token: TOKENS.alice, pem: opensslCsr(env.dir, 'ed25519', '/CN=bob/O=oncall-payments').pem }), 'JitcaCnMismatch', 'csr.cn-mismatch'],
    ['O=system:masters', () => ({ token: TOKENS.alice, pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/O=system:masters').pem }), 'JitcaSystemGroup', 'csr.system-group'],
    [
      'server auth usage',
      () => ({ token: TOKENS.alice, pem: opensslCsr(env.dir, 'p256', '/CN=alice/O=oncall-payments').pem, usages: ['client auth', 'server auth'] }),
      'JitcaUsages',
      'csr.usages',
    ],
    [
      'expirationSeconds over the role maximum (kube-apiserver-client cannot be capped)',
      () => ({ token: TOKENS.alice, pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/O=oncall-payments').pem, signerName: KUBE_APISERVER_CLIENT_SIGNER, expirationSeconds: 3600 }),
      'JitcaExpirationOverMax',
      'csr.expiration-over-max',
    ],
    [
      'subjectAltNames for kube-apiserver-client (kube-controller-manager copies them into the certificate)',
      () => ({
        token: TOKENS.alice,
        pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/O=oncall-payments', ['subjectAltName=DNS:kubernetes.default,URI:spiffe://prod/ns/payments/sa/admin']).pem,
        signerName: KUBE_APISERVER_CLIENT_SIGNER,
      }),
      'JitcaSubjectAltNames',
      'csr.subject-alt-names',
    ],
    [
      'an OU for kube-apiserver-client (kube-controller-manager copies the subject into the certificate)',
      () => ({ token: TOKENS.alice, pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/OU=admins/O=oncall-payments').pem, signerName: KUBE_APISERVER_CLIENT_SIGNER }),
      'JitcaSubjectAttributes',
      'csr.subject-attributes',
    ],
    [
      'an O twice for kube-apiserver-client',
      () => ({ token: TOKENS.alice, pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/O=oncall-payments/O=oncall-payments').pem, signerName: KUBE_APISERVER_CLIENT_SIGNER }),
      'JitcaSubjectTooLong',
      'csr.subject-too-long',
    ],
    ['an RSA-1024 key', () => ({ token: TOKENS.alice, pem: opensslCsr(env.dir, 'rsa1024', '/CN=alice/O=oncall-payments').pem }), 'JitcaKey', 'csr.key'],
    ['an O the role does not allow', () => ({ token: TOKENS.alice, pem: opensslCsr(env.dir, 'ed25519', '/CN=alice/O=jit:oncall:cluster').pem }), 'JitcaGroupsNotAllowed', 'csr.groups-not-allowed'],
    ['a requester in no role', () => ({ token: TOKENS.bob, pem: opensslCsr(env.dir, 'ed25519', '/CN=bob').pem }), 'JitcaNoRole', 'csr.no-role'],
  ];

  it.each(cases)('%s', async (_name, make, reason, rule) => {
    await env.startController();
    const request = make();
    env.submit(request.token, {
      name: 'denied',
      pem: request.pem,
      ...(request.signerName === undefined ? {} : { signerName: request.signerName }),
      ...(request.usages === undefined ? {} : { usages: request.usages }),
      ...(request.expirationSeconds === undefined ? {} : { expirationSeconds: request.expirationSeconds }),
    });
    const denied = await env.waitForCondition('denied', 'Denied');
    expect(denied).toMatchObject({ status: 'True', reason });
    expect(denied.message).toContain(rule);
    await settle();
    expect(env.conditionOf('denied', 'Approved')).toBeUndefined();
    expect(env.certificateOf('denied')).toBeUndefined();
    expect(env.double.stats.certificatePutAttempts).toBe(0);
    const records = await audit();
    expect(records.map((record) => record.type)).toEqual(['csr.denied']);
    expect(records[0]?.data).toMatchObject({ rule, csr: 'denied' });
  });

  it('a CSR with a bad self-signature: the apiserver refuses it at create; one that got in anyway is denied by jitca’s own check', async () => {
    const broken = withBrokenSignature(opensslCsr(env.dir, 'ed25519', '/CN=alice/O=oncall-payments').pem);
    let refused: unknown;
    try {
      env.submit(TOKENS.alice, { name: 'bad-signature', pem: broken });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(KubeStatusError);
    expect((refused as KubeStatusError).status).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(env.double.get('bad-signature')).toBeUndefined();

    // As if written by an older or buggy apiserver. The real one re-validates the whole object on
    // every update (validation.go validateCertificateSigningRequestUpdate), so even the Denied
    // condition is refused (422): jitca's own check decides and audits, and signs nothing.
    env.double.insertUnvalidated(TOKENS.alice, { name: 'bad-signature', requestPem: broken, signerName: 'jitca.dev/debug-client', usages: ['client auth'], expirationSeconds: 1800 });
    const controller = await env.startController();
    await env.double.waitFor(() => env.double.stats.invalid >= 2, 10_000, 'the controller’s refused Denied write');
    await settle();
    const [denied] = await audit('csr.denied');
    expect(denied?.data).toMatchObject({ csr: 'bad-signature', rule: 'csr.invalid' });
    expect(String(denied?.data['message'])).toContain('ERR_CSR_SIGNATURE');
    expect(await audit('csr.approved')).toHaveLength(0);
    expect(env.certificateOf('bad-signature')).toBeUndefined();
    expect(env.double.stats.certificatePutAttempts).toBe(0);
    expect(controller.stats().retries).toBe(0);
    expect(env.logs.some((entry) => entry.level === 'error' && entry.object['csr'] === 'bad-signature')).toBe(true);
  });
});
