import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { parseCertificate } from '../../src/ssh/certificate.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const leads = { mode: 'manual', approverGroups: ['sre-leads'], approvals: 1 };
/** The matrix on an automatic role: the operations alone make requests manual. */
const policy = {
  version: 1,
  extensionDomain: 'jitca.dev',
  roles: [
    {
      name: 'oncall-payments',
      groups: ['oncall-payments'],
      principals: ['oncall-payments'],
      maxTtlSeconds: 3600,
      scope: { clusters: ['prod'], namespaces: ['payments'] },
      approval: { mode: 'auto' },
      operations: [
        { name: 'view-logs', approval: { mode: 'auto' }, maxTtlSeconds: 1800 },
        { name: 'view-config', approval: { mode: 'auto' }, maxTtlSeconds: 1800 },
        { name: 'exec', approval: leads, maxTtlSeconds: 1800 },
        { name: 'debug', approval: { ...leads, approvals: 2 }, maxTtlSeconds: 900 },
        { name: 'port-forward', approval: leads, maxTtlSeconds: 3600 },
      ],
    },
  ],
};

describe('operations through the API', () => {
  const clock = fixedClock(Date.now());
  let api: ApiFixture;
  let key: TempSshKey;

  beforeAll(async () => {
    api = await createApiFixture({ issuanceClock: clock, policy });
    key = createTempSshKey('jitca-operations-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>) =>
    api.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) });
  const ask = (operations?: string[], ttl?: string) =>
    call(api.tokens.alice, 'POST', '/v1/ssh/certificates', {
      publicKey: key.publicKey,
      scope: { cluster: 'prod', namespace: 'payments' },
      reason: 'INC-9',
      ...(operations === undefined ? {} : { operations }),
      ...(ttl === undefined ? {} : { ttl }),
    });
  const lifetime = (certificate: string): number => Number(parseCertificate(certificate).validBefore) - Math.floor(clock.now() / 1000);

  it('issues an automatic operation at once, with operations@<domain> and its lifetime cap', async () => {
    const response = await ask(['view-logs', 'view-config'], '1h');
    expect(response.statusCode).toBe(201);
    const certificate = parseCertificate(response.json().certificate);
    expect(certificate.customExtensions['operations@jitca.dev']).toBe('view-logs,view-config');
    expect(lifetime(response.json().certificate)).toBe(1800);
    const defaulted = await ask();
    expect(parseCertificate(defaulted.json().certificate).customExtensions['operations@jitca.dev']).toBe('view-logs');
    const issued = (await api.ca.runtime.store.listAudit({ limit: 1000 })).find((record) => record.requestId === response.json().requestId && record.type === 'ssh.issued');
    expect(issued?.data).toMatchObject({ operations: ['view-logs', 'view-config'], ttlSeconds: 1800 });
  });

  it('lets the strictest operation decide: debug waits for two approvers and lives 15 minutes from issuance', async () => {
    const response = await ask(['view-logs', 'debug']);
    expect(response.statusCode).toBe(202);
    expect(response.json()).toMatchObject({ status: 'pending', required: 2, approverGroups: ['sre-leads'] });
    const id = response.json().requestId as string;
    const shown = await call(api.tokens.bob, 'GET', `/v1/requests/${id}`);
    expect(shown.json()).toMatchObject({ operations: ['view-logs', 'debug'], ttlSeconds: 900, required: 2 });
    expect((await call(api.tokens.bob, 'POST', `/v1/requests/${id}/approve`, { reason: 'INC-9' })).statusCode).toBe(200);
    clock.advance(5 * 60_000);
    expect((await call(api.tokens.carol, 'POST', `/v1/requests/${id}/approve`, { reason: 'INC-9' })).statusCode).toBe(201);
    const fetched = await call(api.tokens.alice, 'GET', `/v1/requests/${id}/certificate`);
    expect(parseCertificate(fetched.json().certificate).customExtensions['operations@jitca.dev']).toBe('view-logs,debug');
    expect(lifetime(fetched.json().certificate)).toBe(900);
  });

  it('refuses an unknown operation with a stable code and no certificate', async () => {
    const before = api.rowCounts();
    const response = await ask(['rm-rf']);
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'operations.unknown' } });
    const after = api.rowCounts();
    expect(after.certificates).toBe(before.certificates);
    const odd = await ask(['exec\u0000']);
    expect(odd.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'request.invalid' } });
  });
});
