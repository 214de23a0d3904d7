import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/ssh/certificate.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { startPostgres, type PostgresCluster } from '../support/postgres.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

/**
 * One approval, both credentials on PostgreSQL: the facts the gateway route reads (the certificate
 * row, its request's stored identity, the revocations) come back from PostgreSQL as from SQLite.
 */
describe('POST /v1/gateway/kube-credentials on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let api: ApiFixture;
  let key: TempSshKey;
  let csr: string;
  beforeAll(async () => {
    cluster = await startPostgres();
    api = await createApiFixture({ store: { postgresUrl: cluster.createDatabase('jitca_gateway_kube') } });
    key = createTempSshKey('jitca-pg-gateway-');
    const csrKey = path.join(key.dir, 'csr.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', csrKey]);
    csr = execFileSync('openssl', ['req', '-new', '-key', csrKey, '-subj', '/CN=ignored'], { encoding: 'utf8' });
  });
  afterAll(async () => {
    await api?.close();
    cluster?.stop();
    key?.cleanup();
  });

  it("issues for a live certificate of the CA's own, audits the session, and refuses it once revoked", async () => {
    const issued = await api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: { authorization: `Bearer ${api.tokens.alice}` },
      payload: { publicKey: key.publicKey, reason: 'INC-18' },
    });
    expect(issued.statusCode, issued.body).toBe(201);
    const line = issued.json().certificate as string;
    const serial = parseCertificate(line).serial.toString();
    const gateway = { authorization: `Bearer ${api.gatewayToken}` };
    const exchange = () => api.app.inject({ method: 'POST', url: '/v1/gateway/kube-credentials', headers: gateway, payload: { sshCertificate: line, csr } });

    const first = await exchange();
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().groups).toEqual(['jit:oncall:payments']);
    expect(Date.parse(first.json().notAfter)).toBeLessThanOrEqual(Number(parseCertificate(line).validBefore) * 1000);
    const event = await api.app.inject({ method: 'POST', url: '/v1/gateway/sessions/events', headers: gateway, payload: { sshCertificate: line, event: 'started', command: 'kubectl get pods' } });
    expect(event.statusCode, event.body).toBe(201);
    expect((await api.ca.runtime.store.listAudit({ limit: 1000 })).at(-1)).toMatchObject({ type: 'gateway.session.started', subject: 'alice', data: { sshSerial: serial } });

    const revoked = await api.app.inject({ method: 'POST', url: `/v1/ssh/certificates/${serial}/revoke`, headers: { authorization: `Bearer ${api.tokens.alice}` }, payload: { reason: 'done' } });
    expect(revoked.statusCode).toBe(200);
    const refused = await exchange();
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'ssh-cert.revoked' } });
  });
});
