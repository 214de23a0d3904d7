import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { ed25519CsrPem, ed25519KeyLine, skEd25519KeyLine, WEAK_ED25519_KEYS } from '../support/weak-ed25519.ts';

/**
 * Keys nobody holds the private half of get no certificate: a certificate for the Ed25519 identity
 * is a login for whoever sees it (R = B, S = 1 verifies for every message). Refused as bad input
 * (400), before policy, so nothing is audited or stored.
 */
describe('weak subject keys through the API', () => {
  let api: ApiFixture;
  beforeAll(async () => {
    api = await createApiFixture({ rateLimitPerMinute: 100_000 });
  });
  afterAll(async () => {
    await api?.close();
  });

  const post = (url: string, payload: Record<string, unknown>) =>
    api.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${api.tokens.alice}` }, payload });

  it('POST /v1/ssh/certificates: ssh-ed25519 and sk-ssh-ed25519 small-order or non-canonical keys are 400 ERR_KEY_INVALID_POINT, writing nothing', async () => {
    const before = api.rowCounts();
    for (const { name, key } of WEAK_ED25519_KEYS) {
      for (const publicKey of [ed25519KeyLine(key), skEd25519KeyLine(key)]) {
        const response = await post('/v1/ssh/certificates', { publicKey, role: 'oncall-payments', ttl: '10m', reason: 'INC-42' });
        expect(response.statusCode, name).toBe(400);
        expect(response.json(), name).toMatchObject({ code: 'ERR_KEY_INVALID_POINT' });
      }
    }
    expect(api.rowCounts()).toEqual(before);
    // The same request with a key someone holds is issued: only the key made the difference.
    const { x } = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const real = Uint8Array.from(Buffer.from(x ?? '', 'base64url'));
    const issued = await post('/v1/ssh/certificates', { publicKey: ed25519KeyLine(real), role: 'oncall-payments', ttl: '10m', reason: 'INC-42' });
    expect(issued.statusCode).toBe(201);
  });

  it('POST /v1/ssh/certificates: sk-* application strings OpenSSH would not make are 400 ERR_KEY_MALFORMED, writing nothing', async () => {
    const { x } = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const real = Uint8Array.from(Buffer.from(x ?? '', 'base64url'));
    const before = api.rowCounts();
    for (const application of ['https://login.example.com', 'ssh:\nssh-ed25519 AAAA', 'ssh:\u001b]0;x\u0007', `ssh:${'a'.repeat(2048)}`]) {
      const response = await post('/v1/ssh/certificates', { publicKey: skEd25519KeyLine(real, application), role: 'oncall-payments', reason: 'INC-42' });
      expect(response.statusCode, JSON.stringify(application.slice(0, 40))).toBe(400);
      expect(response.json()).toMatchObject({ code: 'ERR_KEY_MALFORMED' });
    }
    expect(api.rowCounts()).toEqual(before);
  });

  it('POST /v1/x509/certificates: an Ed25519 CSR key that is small-order or non-canonical is 400 ERR_KEY_INVALID_POINT, writing nothing', async () => {
    const before = api.rowCounts();
    for (const { name, key } of WEAK_ED25519_KEYS) {
      const response = await post('/v1/x509/certificates', { csr: ed25519CsrPem(key, 'alice'), ttl: '20m', scope: { cluster: 'prod', namespace: 'payments' } });
      expect(response.statusCode, name).toBe(400);
      expect(response.json(), name).toMatchObject({ code: 'ERR_KEY_INVALID_POINT' });
    }
    expect(api.rowCounts()).toEqual(before);
  });
});
