import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readScopeExtension } from '../../src/x509/scope-extension.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';

describe('POST /v1/x509/certificates', () => {
  let api: ApiFixture;
  let dir: string;

  beforeAll(async () => {
    api = await createApiFixture();
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-x509-api-'));
    writeFileSync(path.join(dir, 'ca.pem'), api.ca.runtime.kubeCa.certificatePem);
  });
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A CSR made by the real openssl, as the seeds do (`openssl genpkey -algorithm Ed25519`). */
  function csr(name: string, subject: string): string {
    const key = path.join(dir, `${name}.key`);
    execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', key]);
    return execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject], { encoding: 'utf8' });
  }

  const post = (token: string, payload: Record<string, unknown>) =>
    api.app.inject({ method: 'POST', url: '/v1/x509/certificates', headers: { authorization: `Bearer ${token}` }, payload });

  it('issues a client certificate whose subject comes from the identity and policy, verified by openssl', async () => {
    // The CSR claims to be someone else: the subject is taken from the token and the role.
    const response = await post(api.tokens.alice, {
      csr: csr('alice', '/CN=admin'),
      ttl: '20m',
      scope: { cluster: 'prod', namespace: 'payments' },
    });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body.groups).toEqual(['jit:oncall:payments']);
    const certFile = path.join(dir, 'alice.pem');
    writeFileSync(certFile, body.certificate);
    const verified = spawnSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', path.join(dir, 'ca.pem'), certFile], { encoding: 'utf8' });
    expect(verified.stdout).toMatch(/: OK/);
    const text = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-subject', '-enddate'], { encoding: 'utf8' });
    expect(text).toMatch(/subject=O = jit:oncall:payments, CN = alice/);
    expect(Date.parse(body.notAfter) - Date.parse(body.notBefore)).toBe(20 * 60_000 + 60_000);
    const der = new Uint8Array(Buffer.from(body.certificate.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    // The scope is recorded, not written into the certificate: Go (kubectl, kube-apiserver) cannot
    // parse the scope extension's OID (src/x509/scope-extension.ts; test/e2e/kubectl-plugin.test.ts).
    expect(readScopeExtension(der)).toBeUndefined();
    const stored = await api.ca.runtime.store.findCertificateBySerial(body.serial);
    expect(stored).toMatchObject({ kind: 'x509-client', scope: { cluster: 'prod', namespace: 'payments' } });
  });

  it('a cluster named alone must be one the role allows: refused and audited otherwise, issued without a scope if allowed', async () => {
    const before = api.rowCounts();
    for (const payload of [{ cluster: 'dev' }, { scope: { cluster: 'dev' } }]) {
      const refused = await post(api.tokens.alice, { csr: csr('dev', '/CN=alice'), ...payload });
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'scope.cluster' } });
    }
    expect(api.rowCounts()).toMatchObject({ certificates: before.certificates, audit_log: before.audit_log + 2 });
    const allowed = await post(api.tokens.alice, { csr: csr('prod', '/CN=alice'), cluster: 'prod' });
    expect(allowed.statusCode).toBe(201);
    const der = new Uint8Array(Buffer.from(allowed.json().certificate.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    expect(readScopeExtension(der)).toBeUndefined();
  });

  it('refuses system groups, people without a role, and bad CSRs, with codes and no certificate', async () => {
    const before = api.rowCounts();
    const masters = await post(api.tokens.alice, { csr: csr('m', '/CN=alice/O=system:masters') });
    expect(masters.statusCode).toBe(403);
    expect(masters.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'csr.system-group' } });
    const stranger = await post(api.tokens.mallory, { csr: csr('s', '/CN=mallory') });
    expect(stranger.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'csr.no-role' } });
    const broken = await post(api.tokens.alice, { csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().code).toMatch(/^ERR_CSR_INVALID$/);
    const after = api.rowCounts();
    expect(after.certificates).toBe(before.certificates);
    expect(after.audit_log).toBe(before.audit_log + 2); // two policy denials audited; the malformed CSR wrote nothing
  });
});
