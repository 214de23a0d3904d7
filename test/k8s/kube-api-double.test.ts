/**
 * The API double must behave like kube-apiserver where the controller depends on it, or the
 * controller tests prove nothing. Each rule here is from pkg/registry/certificates/certificates/
 * strategy.go or pkg/apis/certificates/validation/validation.go (kubernetes/kubernetes).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiException, CertificatesV1Api, Watch, type V1CertificateSigningRequest } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.ts';
import { buildEd25519Csr } from '../support/kube-der.ts';
import { withBrokenSignature } from '../support/kube-openssl.ts';

const ALICE = 'token-alice';
const SIGNER = 'signer-token';
const NOBODY = 'token-no-approve';
let double: KubeApiDouble;
let dir: string;
let certificatePem: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'jitca-double-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ed25519', '-nodes', '-keyout', path.join(dir, 'k'), '-out', path.join(dir, 'c'), '-subj', '/CN=x', '-days', '1'], {
    stdio: 'ignore',
  });
  certificatePem = readFileSync(path.join(dir, 'c'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(async () => {
  double = await startKubeApiDouble({
    users: {
      [ALICE]: { username: 'alice', uid: 'uid-1', groups: ['oncall-payments'] },
      [SIGNER]: { username: 'signer', groups: ['signers'] },
      [NOBODY]: { username: 'nobody', groups: [] },
    },
    authorize: (q) => !(q.user.username === 'nobody' && (q.verb === 'approve' || q.verb === 'sign')),
  });
});
afterEach(async () => {
  await double.close();
});

function api(token: string): CertificatesV1Api {
  return double.kubeConfig(token).makeApiClient(CertificatesV1Api);
}

function body(overrides: Record<string, unknown> = {}, pem = buildEd25519Csr('alice', ['oncall-payments']).pem): V1CertificateSigningRequest {
  return {
    metadata: { name: 'c1' },
    spec: { request: Buffer.from(pem).toString('base64'), signerName: 'jitca.dev/debug-client', usages: ['client auth'], expirationSeconds: 1800, ...overrides },
  };
}

async function failure(action: () => Promise<unknown>): Promise<{ code: number; status: { reason?: string; details?: { causes?: Array<{ field: string }> } } }> {
  try {
    await action();
  } catch (error) {
    // client-node drops the body of a 401 (its generated code throws with body undefined).
    if (error instanceof ApiException) return { code: error.code as number, status: typeof error.body === 'string' ? JSON.parse(error.body) : {} };
    throw error;
  }
  throw new Error('expected the apiserver to refuse');
}

describe('create', () => {
  it('takes spec.username, uid and groups from the bearer token, never from the body, and starts without status', async () => {
    const created = await api(ALICE).createCertificateSigningRequest({ body: body({ username: 'root', groups: ['system:masters'] }) });
    expect(created.spec).toMatchObject({ username: 'alice', uid: 'uid-1', groups: ['oncall-payments', 'system:authenticated'] });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(double.get('c1')?.status).toEqual({});
  });

  it.each<[string, () => V1CertificateSigningRequest, string]>([
    ['a request whose self-signature does not verify', () => body({}, withBrokenSignature(buildEd25519Csr('alice').pem)), 'spec.request'],
    ['something that is not a CERTIFICATE REQUEST', () => body({}, certificatePem), 'spec.request'],
    ['no usages', () => body({ usages: [] }), 'spec.usages'],
    ['an unknown usage', () => body({ usages: ['client auth', 'root'] }), 'spec.usages[1]'],
    ['expirationSeconds under 600', () => body({ expirationSeconds: 599 }), 'spec.expirationSeconds'],
    ['the legacy signerName', () => body({ signerName: 'kubernetes.io/legacy-unknown' }), 'spec.signerName'],
    ['a malformed signerName', () => body({ signerName: 'no-slash' }), 'spec.signerName'],
  ])('refuses %s with 422 Invalid naming the field, and stores nothing', async (_name, make, field) => {
    const refused = await failure(() => api(ALICE).createCertificateSigningRequest({ body: make() }));
    expect(refused.code).toBe(422);
    expect(refused.status.reason).toBe('Invalid');
    expect(refused.status.details?.causes?.map((cause) => cause.field)).toContain(field);
    expect(double.list()).toHaveLength(0);
  });

  it('refuses a second CSR of the same name (409 AlreadyExists) and an unknown token (401)', async () => {
    await api(ALICE).createCertificateSigningRequest({ body: body() });
    expect(await failure(() => api(ALICE).createCertificateSigningRequest({ body: body() }))).toMatchObject({ code: 409, status: { reason: 'AlreadyExists' } });
    expect((await failure(() => api('bad-token').listCertificateSigningRequest())).code).toBe(401);
  });
});

describe('updates', () => {
  let csr: V1CertificateSigningRequest;
  beforeEach(async () => {
    csr = await api(ALICE).createCertificateSigningRequest({ body: body() });
  });

  it('PUT on the resource changes metadata only, never spec or status', async () => {
    const updated = await api(ALICE).replaceCertificateSigningRequest({
      name: 'c1',
      body: { ...csr, metadata: { ...csr.metadata, labels: { team: 'payments' } }, spec: { ...csr.spec, usages: ['server auth'] }, status: { conditions: [{ type: 'Approved', status: 'True' }] } },
    });
    expect(updated.metadata?.labels).toEqual({ team: 'payments' });
    expect(updated.spec.usages).toEqual(['client auth']);
    expect(updated.status?.conditions).toBeUndefined();
  });

  it('/approval changes only conditions; Approved with Denied is 422; a stale resourceVersion is 409 Conflict', async () => {
    const approved = await api(SIGNER).replaceCertificateSigningRequestApproval({
      name: 'c1',
      body: { ...csr, spec: { ...csr.spec, usages: ['server auth'] }, status: { certificate: Buffer.from(certificatePem).toString('base64'), conditions: [{ type: 'Approved', status: 'True', reason: 'R' }] } },
    });
    expect(approved.status?.conditions?.map((c) => c.type)).toEqual(['Approved']);
    expect(approved.status?.conditions?.[0]?.lastUpdateTime).toBeInstanceOf(Date);
    expect(approved.status?.certificate).toBeUndefined();
    expect(approved.spec.usages).toEqual(['client auth']);

    const both = { ...approved, status: { conditions: [...(approved.status?.conditions ?? []), { type: 'Denied', status: 'True' }] } };
    expect(await failure(() => api(SIGNER).replaceCertificateSigningRequestApproval({ name: 'c1', body: both }))).toMatchObject({ code: 422, status: { reason: 'Invalid' } });
    const removed = { ...approved, status: { conditions: [] } };
    expect((await failure(() => api(SIGNER).replaceCertificateSigningRequestApproval({ name: 'c1', body: removed }))).code).toBe(422);
    expect(await failure(() => api(SIGNER).replaceCertificateSigningRequestApproval({ name: 'c1', body: { ...csr, status: { conditions: [{ type: 'Denied', status: 'True' }] } } }))).toMatchObject({
      code: 409,
      status: { reason: 'Conflict' },
    });
    expect(double.stats.approvalWrites).toBe(1);
  });

  it('a PUT carrying the uid of a deleted CSR is 409 on the CSR re-created under its name, even without a resourceVersion', async () => {
    double.delete('c1');
    const second = await api(ALICE).createCertificateSigningRequest({ body: body() });
    expect(second.metadata?.uid).not.toBe(csr.metadata?.uid);
    const stale = { ...csr, metadata: { ...csr.metadata, resourceVersion: undefined }, status: { conditions: [{ type: 'Approved', status: 'True' }] } };
    const refused = await failure(() => api(SIGNER).replaceCertificateSigningRequestApproval({ name: 'c1', body: stale }));
    expect(refused).toMatchObject({ code: 409, status: { reason: 'Conflict' } });
    expect((refused.status as { message?: string }).message).toContain('Precondition failed: UID in precondition');
    expect(double.get('c1')?.status.conditions).toBeUndefined();
    expect(double.stats.approvalWrites).toBe(0);
  });

  it('asks for "approve" on signers/<signerName> before a decision is written (403 otherwise)', async () => {
    const refused = await failure(() =>
      api(NOBODY).replaceCertificateSigningRequestApproval({ name: 'c1', body: { ...csr, status: { conditions: [{ type: 'Approved', status: 'True' }] } } }),
    );
    expect(refused).toMatchObject({ code: 403, status: { reason: 'Forbidden' } });
    expect(double.get('c1')?.status).toEqual({});
  });

  it('/status sets status.certificate even on a CSR that is not Approved (what the real apiserver does), once', async () => {
    // validation.go only checks the PEM and that an existing certificate is not changed: checking
    // Approved is the signer's job.
    const certificate = Buffer.from(certificatePem).toString('base64');
    const signed = await api(SIGNER).replaceCertificateSigningRequestStatus({ name: 'c1', body: { ...csr, status: { certificate } } });
    expect(signed.status?.certificate).toBe(certificate);
    expect(double.stats.certificateWrites.get('c1')).toBe(1);

    const other = Buffer.from(certificatePem.replace('CERTIFICATE-----\n', 'CERTIFICATE-----\n\n')).toString('base64');
    expect((await failure(() => api(SIGNER).replaceCertificateSigningRequestStatus({ name: 'c1', body: { ...signed, status: { certificate: other } } }))).code).toBe(422);
    expect(double.stats.certificateOverwritesRefused).toBe(1);
    // Writing the same certificate again is no change at all.
    const again = await api(SIGNER).replaceCertificateSigningRequestStatus({ name: 'c1', body: signed });
    expect(again.metadata?.resourceVersion).toBe(signed.metadata?.resourceVersion);
  });

  it('/status cannot add Approved, refuses a certificate that is not PEM CERTIFICATE, and may add Failed', async () => {
    expect((await failure(() => api(SIGNER).replaceCertificateSigningRequestStatus({ name: 'c1', body: { ...csr, status: { conditions: [{ type: 'Approved', status: 'True' }] } } }))).code).toBe(422);
    const notPem = Buffer.from('hello').toString('base64');
    expect((await failure(() => api(SIGNER).replaceCertificateSigningRequestStatus({ name: 'c1', body: { ...csr, status: { certificate: notPem } } }))).code).toBe(422);
    const failed = await api(SIGNER).replaceCertificateSigningRequestStatus({ name: 'c1', body: { ...csr, status: { conditions: [{ type: 'Failed', status: 'True', reason: 'X' }] } } });
    expect(failed.status?.conditions?.map((c) => c.type)).toEqual(['Failed']);
  });
});

describe('watch', () => {
  interface Seen {
    events: Array<{ type: string; name?: string; code?: number; rv?: string }>;
    done: Promise<unknown>;
    abort(): void;
  }

  async function watch(query: Record<string, string | boolean>): Promise<Seen> {
    const events: Seen['events'] = [];
    let finish: (error: unknown) => void = () => undefined;
    const done = new Promise<unknown>((resolve) => {
      finish = resolve;
    });
    const controller = await new Watch(double.kubeConfig(ALICE)).watch(
      '/apis/certificates.k8s.io/v1/certificatesigningrequests',
      query,
      (type, object: { metadata?: { name?: string; resourceVersion?: string }; code?: number }) =>
        events.push({ type, ...(object.metadata?.name === undefined ? {} : { name: object.metadata.name }), ...(object.code === undefined ? {} : { code: object.code }), ...(object.metadata?.resourceVersion === undefined ? {} : { rv: object.metadata.resourceVersion }) }),
      (error) => finish(error),
    );
    return { events, done, abort: () => controller.abort() };
  }

  it('replays what happened after the given resourceVersion, then streams, with bookmarks when asked', async () => {
    double.create(ALICE, { name: 'a', requestPem: buildEd25519Csr('alice').pem, signerName: 'jitca.dev/debug-client', usages: ['client auth'] });
    const from = String(double.resourceVersion);
    double.create(ALICE, { name: 'b', requestPem: buildEd25519Csr('alice').pem, signerName: 'jitca.dev/debug-client', usages: ['client auth'] });
    const seen = await watch({ resourceVersion: from, allowWatchBookmarks: true });
    double.delete('a');
    double.bookmark();
    await double.waitFor(() => seen.events.length === 3, 5000, 'three events');
    expect(seen.events.map((e) => `${e.type}:${e.name ?? ''}`)).toEqual(['ADDED:b', 'DELETED:a', 'BOOKMARK:']);
    expect(seen.events[2]?.rv).toBe(String(double.resourceVersion));
    seen.abort();
  });

  it('resourceVersion "0" starts with the current objects as ADDED', async () => {
    double.create(ALICE, { name: 'a', requestPem: buildEd25519Csr('alice').pem, signerName: 'jitca.dev/debug-client', usages: ['client auth'] });
    const seen = await watch({ resourceVersion: '0' });
    await double.waitFor(() => seen.events.length === 1, 5000, 'one event');
    expect(seen.events[0]).toMatchObject({ type: 'ADDED', name: 'a' });
    seen.abort();
  });

  it('a resourceVersion older than the compacted history gets one ERROR 410 Expired and the stream ends', async () => {
    const old = String(double.resourceVersion);
    double.create(ALICE, { name: 'a', requestPem: buildEd25519Csr('alice').pem, signerName: 'jitca.dev/debug-client', usages: ['client auth'] });
    double.compact();
    const seen = await watch({ resourceVersion: old });
    await seen.done;
    expect(seen.events).toEqual([{ type: 'ERROR', code: 410 }]);
    expect(double.stats.expiredWatches).toBe(1);
  });
});
