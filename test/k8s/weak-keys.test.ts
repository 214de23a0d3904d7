import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/store/types.ts';
import { TOKENS, createCaFixture, createCsrEnvironment, type CaFixture, type CsrEnvironment } from '../support/kube-csr-harness.ts';
import { ed25519CsrPem, IDENTITY_KEY } from '../support/weak-ed25519.ts';

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

async function audit(): Promise<AuditRecord[]> {
  return env.store.listAudit({ limit: 10000 });
}

describe('the CSR signer and an Ed25519 identity key', () => {
  it('denies it as csr.key (ERR_KEY_INVALID_POINT) and signs nothing', async () => {
    // The signature R = B, S = 1 verifies for the identity key only where verification skips the
    // cofactor (OpenSSH's ref10, Go's crypto/ed25519); the double checks CSRs with OpenSSL, which
    // refuses it, so the request is put in as an apiserver that accepted it would have stored it.
    const pem = ed25519CsrPem(IDENTITY_KEY, 'alice', 'oncall-payments');
    env.double.insertUnvalidated(TOKENS.alice, { name: 'identity-key', requestPem: pem, signerName: 'jitca.dev/debug-client', usages: ['client auth'], expirationSeconds: 1800 });
    await env.startController();
    for (let attempt = 0; attempt < 200 && (await audit()).length === 0; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const controller of env.controllers) await controller.idle();
    const records = await audit();
    expect(records.map((record) => record.type)).toEqual(['csr.denied']);
    expect(records[0]?.data).toMatchObject({ csr: 'identity-key', rule: 'csr.key' });
    expect(String(records[0]?.data['message'])).toContain('ERR_KEY_INVALID_POINT');
    expect(env.certificateOf('identity-key')).toBeUndefined();
    expect(env.double.stats.certificatePutAttempts).toBe(0);
  });
});
