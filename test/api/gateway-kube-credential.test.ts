/**
 * One approval, both credentials (issue 18): POST /v1/gateway/kube-credentials. The SSH gateway,
 * as itself, presents the SSH certificate an engineer logged in with; the CA answers with a
 * Kubernetes client certificate for the same person, scope and operations, ending no later than
 * the SSH certificate, and refuses anything that is not a live certificate of its own, of a role
 * that accepts the gateway.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { parseCertificate } from '../../src/ssh/certificate.ts';
import { readScopeExtension } from '../../src/x509/scope-extension.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const READ = 'jit:payments:debug-read-only';
const EXEC = 'jit:payments:debug-exec';
const leads = { mode: 'manual', approverGroups: ['sre-leads'], approvals: 1 };
const kubernetes = { groups: [READ, EXEC, 'jit:payments:unbound'], maxExpirationSeconds: 1800 };
const operations = [
  { name: 'view-logs', approval: { mode: 'auto' }, maxTtlSeconds: 1800, kubernetesGroups: [READ] },
  { name: 'exec', approval: { mode: 'auto' }, maxTtlSeconds: 1800, kubernetesGroups: [EXEC] },
];
const policy = {
  version: 1,
  extensionDomain: 'jitca.dev',
  revokerGroups: ['sre-leads'],
  roles: [
    {
      name: 'oncall-payments',
      groups: ['oncall-payments'],
      principals: ['oncall-payments'],
      maxTtlSeconds: 3600,
      scope: { clusters: ['prod'], namespaces: ['payments'], pods: ['*'] },
      approval: { mode: 'auto' },
      operations,
      allowGateway: true,
      kubernetes,
    },
    // Approved by a person: the Kubernetes certificate needs no second approval.
    {
      name: 'sre-reviewed',
      groups: ['sre'],
      principals: ['sre-reviewed'],
      maxTtlSeconds: 900,
      scope: { clusters: ['prod'], namespaces: ['*'] },
      approval: leads,
      allowGateway: true,
      kubernetes: { groups: ['jit:sre:debug'], maxExpirationSeconds: 600 },
    },
    // Everything but the gateway.
    {
      name: 'interns-direct',
      groups: ['interns'],
      principals: ['interns'],
      maxTtlSeconds: 900,
      scope: { clusters: ['prod'], namespaces: ['payments'] },
      approval: { mode: 'auto' },
      kubernetes: { groups: ['jit:interns'], maxExpirationSeconds: 600 },
    },
  ],
};

describe('POST /v1/gateway/kube-credentials', () => {
  const clock = fixedClock(Date.now());
  let api: ApiFixture;
  let key: TempSshKey;
  let csr: string;

  beforeAll(async () => {
    api = await createApiFixture({ issuanceClock: clock, policy });
    key = createTempSshKey('jitca-gateway-kube-');
    const csrKey = path.join(key.dir, 'csr.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', csrKey]);
    csr = execFileSync('openssl', ['req', '-new', '-key', csrKey, '-subj', '/CN=ignored'], { encoding: 'utf8' });
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
    api.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
  const sshCertificate = async (token: string, asked: Record<string, unknown>): Promise<string> => {
    const response = await call(token, 'POST', '/v1/ssh/certificates', { publicKey: key.publicKey, reason: 'INC-18', ...asked });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().certificate as string;
  };
  const exchange = (sshCertificateLine: string, headers: Record<string, string> = { authorization: `Bearer ${api.gatewayToken}` }) =>
    api.app.inject({ method: 'POST', url: '/v1/gateway/kube-credentials', headers, payload: { sshCertificate: sshCertificateLine, csr } });
  const refusedWithRule = async (line: string, rule: string) => {
    const before = api.rowCounts();
    const response = await exchange(line);
    expect(response.statusCode, response.body).toBe(403);
    expect(response.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule } });
    const after = api.rowCounts();
    // Nothing issued; the refusal is recorded and audited as every denial is.
    expect(after.certificates).toBe(before.certificates);
    expect(after.audit_log).toBe(before.audit_log + 1);
    const record = (await api.ca.runtime.store.listAudit({ limit: 1000 })).at(-1);
    expect(record).toMatchObject({ type: 'x509.denied', actor: 'jitca-ssh-gateway', data: { rule, sshSerial: parseCertificate(line).serial.toString() } });
  };

  it("issues the engineer's Kubernetes certificate: same person, scope, approval, the operations' groups, audited with the SSH serial", async () => {
    const line = await sshCertificate(api.tokens.alice, { scope: { cluster: 'prod', namespace: 'payments', pod: 'api-0' }, operations: ['view-logs'], ttl: '20m' });
    const ssh = parseCertificate(line);
    const approvalsBefore = api.rowCounts().approvals;
    const response = await exchange(line);
    expect(response.statusCode, response.body).toBe(201);
    const body = response.json();
    expect(body.groups).toEqual([READ]);
    expect(body.operations).toEqual(['view-logs']);
    const x509 = new X509Certificate(body.certificate);
    expect(x509.subject.split('\n').sort()).toEqual(['CN=alice', `O=${READ}`]);
    // The scope is recorded with the certificate, not written into it: kubectl (Go's crypto/x509)
    // cannot parse the scope extension's OID, and the gateway's kubectl loads this certificate.
    expect(readScopeExtension(new Uint8Array(x509.raw))).toBeUndefined();
    expect((await api.ca.runtime.store.findCertificateBySerial(body.serial))?.scope).toEqual({ cluster: 'prod', namespace: 'payments', pod: 'api-0', operations: ['view-logs'] });
    expect(Date.parse(body.notAfter)).toBeLessThanOrEqual(Number(ssh.validBefore) * 1000);
    expect(api.rowCounts().approvals).toBe(approvalsBefore);
    const issued = (await api.ca.runtime.store.listAudit({ limit: 1000 })).find((record) => record.requestId === body.requestId);
    expect(issued).toMatchObject({
      type: 'x509.issued',
      actor: 'jitca-ssh-gateway',
      subject: 'alice',
      data: {
        via: 'gateway',
        sshSerial: ssh.serial.toString(),
        approvalReference: ssh.customExtensions['approval@jitca.dev'],
        serial: body.serial,
        organizations: [READ],
        operations: ['view-logs'],
        scope: { cluster: 'prod', namespace: 'payments', pod: 'api-0' },
      },
    });

    // The same certificate again gets the same and no more.
    const again = await exchange(line);
    expect(again.statusCode).toBe(201);
    expect(again.json().groups).toEqual([READ]);
    expect((await api.ca.runtime.store.findCertificateBySerial(again.json().serial))?.scope).toEqual({ cluster: 'prod', namespace: 'payments', pod: 'api-0', operations: ['view-logs'] });
  });

  it("carries exactly the groups of the SSH certificate's operations", async () => {
    const line = await sshCertificate(api.tokens.alice, { scope: { cluster: 'prod', namespace: 'payments' }, operations: ['exec'] });
    const response = await exchange(line);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ groups: [EXEC], operations: ['exec'] });
  });

  it("caps notAfter at the SSH certificate's valid_before", async () => {
    const line = await sshCertificate(api.tokens.alice, { scope: { cluster: 'prod', namespace: 'payments' }, operations: ['view-logs'], ttl: '5m' });
    clock.advance(2 * 60_000);
    const response = await exchange(line);
    expect(response.statusCode, response.body).toBe(201);
    // The role would give 1800 s; the SSH certificate has about 3 minutes left.
    expect(Date.parse(response.json().notAfter)).toBe(Number(parseCertificate(line).validBefore) * 1000);
  });

  it("needs no second approval: a person's approval of the SSH request covers the Kubernetes certificate", async () => {
    const created = await call(api.tokens.dave, 'POST', '/v1/ssh/certificates', { publicKey: key.publicKey, scope: { cluster: 'prod', namespace: 'web' }, reason: 'INC-18' });
    expect(created.statusCode).toBe(202);
    const id = created.json().requestId as string;
    expect((await call(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'INC-18' })).statusCode).toBe(201);
    const line = (await call(api.tokens.dave, 'GET', `/v1/requests/${id}/certificate`)).json().certificate as string;
    // Asked directly, the X.509 API refuses the role: it cannot wait for a person.
    expect((await call(api.tokens.dave, 'POST', '/v1/x509/certificates', { csr })).json()).toMatchObject({ details: { rule: 'csr.manual-approval' } });
    const response = await exchange(line);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().groups).toEqual(['jit:sre:debug']);
    expect((await api.ca.runtime.store.findCertificateBySerial(response.json().serial))?.scope).toEqual({ cluster: 'prod', namespace: 'web' });
    const issued = (await api.ca.runtime.store.listAudit({ limit: 1000 })).find((record) => record.requestId === response.json().requestId);
    expect(String(issued?.data['approvalReference'])).toContain('bob');
    expect(Date.parse(response.json().notAfter) - clock.now()).toBeLessThanOrEqual(600_000);
  });

  it('refuses a certificate from another CA carrying a serial this CA issued', async () => {
    const ours = parseCertificate(await sshCertificate(api.tokens.alice, { scope: { cluster: 'prod', namespace: 'payments' } }));
    const otherCa = path.join(key.dir, 'other-ca');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherCa]);
    const copy = path.join(key.dir, 'foreign');
    writeFileSync(`${copy}.pub`, `${key.publicKey}\n`);
    execFileSync('ssh-keygen', [
      '-q', '-s', otherCa, '-I', ours.keyId, '-n', 'oncall-payments', '-z', ours.serial.toString(), '-V', '+10m',
      ...Object.entries(ours.customExtensions).flatMap(([name, value]) => ['-O', `extension:${name}=${value}`]),
      `${copy}.pub`,
    ]);
    const foreign = execFileSync('cat', [`${copy}-cert.pub`], { encoding: 'utf8' }).trim();
    expect(parseCertificate(foreign).serial).toBe(ours.serial);
    await refusedWithRule(foreign, 'ssh-cert.unknown');
  });

  it('refuses a certificate of its own with a byte altered', async () => {
    const line = await sshCertificate(api.tokens.alice, { scope: { cluster: 'prod', namespace: 'payments' } });
    const blob = Buffer.from(parseCertificate(line).blob);
    blob.writeUInt8(blob.readUInt8(blob.length - 1) ^ 1, blob.length - 1); // the signature's last byte: still a well-formed certificate
    await refusedWithRule(`${line.split(' ')[0]} ${blob.toString('base64')}`, 'ssh-cert.unknown');
  });

  it('refuses a revoked certificate', async () => {
    const line = await sshCertificate(api.tokens.alice, { scope: { cluster: 'prod', namespace: 'payments' } });
    const serial = parseCertificate(line).serial.toString();
    expect((await call(api.tokens.alice, 'POST', `/v1/ssh/certificates/${serial}/revoke`, { reason: 'laptop lost' })).statusCode).toBe(200);
    await refusedWithRule(line, 'ssh-cert.revoked');
  });

  it('refuses an expired certificate', async () => {
    const line = await sshCertificate(api.tokens.alice, { scope: { cluster: 'prod', namespace: 'payments' }, ttl: '5m' });
    clock.advance(5 * 60_000);
    await refusedWithRule(line, 'ssh-cert.expired');
  });

  it('refuses a certificate of a role that does not accept the gateway', async () => {
    const line = await sshCertificate(api.tokens.mallory, { scope: { cluster: 'prod', namespace: 'payments' } });
    await refusedWithRule(line, 'role.gateway');
  });

  it('answers only the gateway as itself: not an engineer, not the gateway carrying a token, not anyone', async () => {
    const line = await sshCertificate(api.tokens.alice, { scope: { cluster: 'prod', namespace: 'payments' } });
    const before = api.rowCounts();
    const cases: Array<[Record<string, string>, string]> = [
      [{ authorization: `Bearer ${api.tokens.alice}` }, 'ERR_AUTHN_AUDIENCE'],
      [{ authorization: `Bearer ${api.gatewayToken}`, 'x-jitca-on-behalf-of': api.tokens.alice }, 'ERR_AUTHN_MALFORMED'],
      [{}, 'ERR_AUTHN_MISSING'],
    ];
    for (const [headers, code] of cases) {
      const response = await exchange(line, headers);
      expect(response.statusCode, JSON.stringify(headers)).toBe(401);
      expect(response.json().code).toBe(code);
    }
    expect(api.rowCounts()).toEqual(before);
  });

  it('refuses malformed input with a 400 and writes nothing', async () => {
    const line = await sshCertificate(api.tokens.alice, { scope: { cluster: 'prod', namespace: 'payments' } });
    const before = api.rowCounts();
    const payloads: Record<string, unknown>[] = [
      { sshCertificate: 'ssh-ed25519-cert-v01@openssh.com AAAA', csr },
      { sshCertificate: key.publicKey, csr },
      { sshCertificate: line, csr: 'not a csr' },
      { sshCertificate: line },
      { sshCertificate: line, csr, operations: ['exec'] },
    ];
    for (const payload of payloads) {
      const response = await api.app.inject({ method: 'POST', url: '/v1/gateway/kube-credentials', headers: { authorization: `Bearer ${api.gatewayToken}` }, payload });
      expect(response.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
      expect(response.json().code).toMatch(/^ERR_/);
    }
    expect(api.rowCounts()).toEqual(before);
  });

  it('audits a session start and end, with the recording hash, for a certificate of its own only', async () => {
    const line = await sshCertificate(api.tokens.alice, { scope: { cluster: 'prod', namespace: 'payments', pod: 'api-0' }, operations: ['view-logs'] });
    const serial = parseCertificate(line).serial.toString();
    const post = (payload: Record<string, unknown>, headers: Record<string, string> = { authorization: `Bearer ${api.gatewayToken}` }) =>
      api.app.inject({ method: 'POST', url: '/v1/gateway/sessions/events', headers, payload });
    const sha256 = 'a'.repeat(64);
    expect((await post({ sshCertificate: line, event: 'started', command: 'kubectl --namespace payments logs api-0' })).statusCode).toBe(201);
    const ended = await post({
      sshCertificate: line,
      event: 'ended',
      command: 'kubectl --namespace payments logs api-0',
      end: { reason: 'expired', durationMs: 1200 },
      recording: { sha256, bytes: 321, truncated: false },
    });
    expect(ended.statusCode, ended.body).toBe(201);
    const records = (await api.ca.runtime.store.listAudit({ limit: 1000 })).slice(-2);
    expect(records.map((record) => record.type)).toEqual(['gateway.session.started', 'gateway.session.ended']);
    expect(records[1]).toMatchObject({
      actor: 'jitca-ssh-gateway',
      subject: 'alice',
      data: { sshSerial: serial, scope: { cluster: 'prod', namespace: 'payments', pod: 'api-0' }, end: { reason: 'expired' }, recording: { sha256, bytes: 321 } },
    });

    const before = api.rowCounts();
    const blob = Buffer.from(parseCertificate(line).blob);
    blob.writeUInt8(blob.readUInt8(blob.length - 1) ^ 1, blob.length - 1);
    const altered = await post({ sshCertificate: `${line.split(' ')[0]} ${blob.toString('base64')}`, event: 'started', command: 'x' });
    expect(altered.statusCode).toBe(403);
    expect(altered.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'ssh-cert.unknown' } });
    expect((await post({ sshCertificate: line, event: 'started', command: 'x' }, { authorization: `Bearer ${api.tokens.alice}` })).statusCode).toBe(401);
    expect((await post({ sshCertificate: line, event: 'ended', command: 'x', recording: { sha256: 'nothex', bytes: 1, truncated: false } })).statusCode).toBe(400);
    expect((await post({ sshCertificate: line, event: 'other', command: 'x' })).statusCode).toBe(400);
    expect(api.rowCounts()).toEqual(before);
  });
});
