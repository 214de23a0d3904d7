/**
 * A role whose scope lists "*" accepts any value: the value must still be a cluster or namespace
 * name before it goes into a certificate's scope extension (its own file: one SoftHSM2
 * configuration per process, and this needs a CA with its own policy).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { testPolicy } from '../support/ca-fixture.ts';

let api: ApiFixture;
let dir: string;

beforeAll(async () => {
  const anyScope = {
    ...testPolicy,
    roles: testPolicy.roles.map((role) => (role.name === 'oncall-payments' ? { ...role, scope: { clusters: ['*'], namespaces: ['*'] } } : role)),
  };
  api = await createApiFixture({ policy: anyScope });
  dir = mkdtempSync(path.join(tmpdir(), 'jitca-x509-scope-'));
});
afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

function csr(): string {
  const key = path.join(dir, 'alice.key');
  execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', key]);
  return execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=alice'], { encoding: 'utf8' });
}

const post = (scope: { cluster: string; namespace?: string }) =>
  api.app.inject({ method: 'POST', url: '/v1/x509/certificates', headers: { authorization: `Bearer ${api.tokens.alice}` }, payload: { csr: csr(), scope } });

it('refuses (audited) a namespace or cluster that is not a name, and issues for one that is', async () => {
  const before = api.rowCounts();
  const malformed = [
    { cluster: 'prod', namespace: 'Pay_Ments' },
    { cluster: 'prod', namespace: '../kube-system' },
    { cluster: 'pr od', namespace: 'payments' },
    { cluster: 'pr od' },
  ];
  for (const scope of malformed) {
    const response = await post(scope);
    expect(response.statusCode, JSON.stringify(scope)).toBe(403);
    expect(response.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'request.invalid' } });
  }
  expect(api.rowCounts()).toMatchObject({ certificates: before.certificates, audit_log: before.audit_log + malformed.length });
  const fine = await post({ cluster: 'dev', namespace: 'payments' });
  expect(fine.statusCode).toBe(201);
});
