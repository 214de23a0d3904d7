import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REASON_LENGTH } from '../../src/policy/patterns.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

describe('POST /v1/ssh/certificates/{serial}/revoke', () => {
  let api: ApiFixture;
  let key: TempSshKey;

  beforeAll(async () => {
    api = await createApiFixture();
    key = createTempSshKey('jitca-api-revoke-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  async function issueForAlice(): Promise<{ serial: string; certificate: string }> {
    const response = await api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: { authorization: `Bearer ${api.tokens.alice}` },
      payload: { publicKey: key.publicKey, role: 'oncall-payments', ttl: '10m', reason: 'INC-9' },
    });
    expect(response.statusCode).toBe(201);
    return response.json();
  }

  const revoke = (token: string, serial: string, payload: unknown = { reason: 'laptop lost' }, headers: Record<string, string> = {}) =>
    api.app.inject({
      method: 'POST',
      url: `/v1/ssh/certificates/${serial}/revoke`,
      headers: { authorization: `Bearer ${token}`, ...headers },
      payload: payload as Record<string, unknown>,
    });

  it('the holder revokes their own certificate; a revoker group member revokes anyone\'s; both land in the KRL', async () => {
    const own = await issueForAlice();
    const other = await issueForAlice();
    const byAlice = await revoke(api.tokens.alice, own.serial);
    expect(byAlice.statusCode).toBe(200);
    expect(byAlice.json()).toMatchObject({ serial: own.serial, revoked: true, keyId: expect.stringMatching(/^alice\/req_/) });
    const byBob = await revoke(api.tokens.bob, other.serial, { reason: 'INC-10 containment' });
    expect(byBob.statusCode).toBe(200);

    const audited = (await api.ca.runtime.store.listAudit({ limit: 1000 })).filter((record) => record.type === 'ssh.revoked');
    expect(audited.map((record) => [record.actor, record.subject, record.data['serial']])).toEqual([
      ['alice', 'alice', own.serial],
      ['bob', 'alice', other.serial],
    ]);

    const krl = await api.app.inject({ method: 'GET', url: '/v1/trust/ssh-krl' });
    const krlFile = path.join(key.dir, 'revoked.krl');
    writeFileSync(krlFile, krl.rawPayload);
    for (const [name, certificate] of [['own', own.certificate], ['other', other.certificate]]) {
      const file = path.join(key.dir, `${name}-cert.pub`);
      writeFileSync(file, `${certificate}\n`);
      expect(spawnSync('ssh-keygen', ['-Q', '-f', krlFile, file], { encoding: 'utf8' }).stdout).toMatch(/REVOKED/);
    }
  });

  it('a revocation through the API is in the next GET of the KRL at once, though the KRL was built and cached before it', async () => {
    const cached = await api.app.inject({ method: 'GET', url: '/v1/trust/ssh-krl' });
    const etag = String(cached.headers['etag']);
    expect((await api.app.inject({ method: 'GET', url: '/v1/trust/ssh-krl', headers: { 'if-none-match': etag } })).statusCode).toBe(304);
    const { serial, certificate } = await issueForAlice();
    expect((await revoke(api.tokens.alice, serial)).statusCode).toBe(200);

    const fresh = await api.app.inject({ method: 'GET', url: '/v1/trust/ssh-krl', headers: { 'if-none-match': etag } });
    expect(fresh.statusCode).toBe(200);
    const krlFile = path.join(key.dir, 'fresh.krl');
    writeFileSync(krlFile, fresh.rawPayload);
    const certificateFile = path.join(key.dir, 'fresh-cert.pub');
    writeFileSync(certificateFile, `${certificate}\n`);
    expect(spawnSync('ssh-keygen', ['-Q', '-f', krlFile, certificateFile], { encoding: 'utf8' }).stdout).toMatch(/REVOKED/);
    const newEtag = String(fresh.headers['etag']);
    expect((await api.app.inject({ method: 'GET', url: '/v1/trust/ssh-krl', headers: { 'if-none-match': newEtag } })).statusCode).toBe(304);
  });

  it('takes every reason the schema takes (tab, newline, astral characters up to the limit), and refuses whitespace alone at the schema', async () => {
    for (const reason of ['laptop\tlost', 'INC-11:\n\tkey on a shared host', '\u{1F511}'.repeat(MAX_REASON_LENGTH)]) {
      const { serial } = await issueForAlice();
      const response = await revoke(api.tokens.alice, serial, { reason });
      expect(response.statusCode, JSON.stringify(reason).slice(0, 30)).toBe(200);
    }
    const { serial } = await issueForAlice();
    const before = api.rowCounts();
    const blank = await revoke(api.tokens.alice, serial, { reason: ' \t\n' });
    expect(blank.statusCode).toBe(400);
    expect(blank.json()).toMatchObject({ code: 'ERR_REQUEST_INVALID', details: { path: '/reason' } });
    expect(api.rowCounts()).toEqual(before);
  });

  it('refuses others, the gateway, a second revocation, unknown and malformed serials, each with its code and nothing written', async () => {
    const { serial } = await issueForAlice();
    const before = api.rowCounts();

    const byMallory = await revoke(api.tokens.mallory, serial);
    expect(byMallory.statusCode).toBe(403);
    expect(byMallory.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'revoke.not-allowed' } });
    const byDave = await revoke(api.tokens.dave, serial);
    expect(byDave.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'revoke.not-allowed' } });
    const viaGateway = await revoke(api.gatewayToken, serial, { reason: 'x' }, { 'x-jitca-on-behalf-of': api.tokens.alice });
    expect(viaGateway.statusCode).toBe(403);
    expect(viaGateway.json()).toMatchObject({ details: { rule: 'revoke.gateway' } });
    const unknown = await revoke(api.tokens.bob, '12345');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'ERR_CERTIFICATE_NOT_FOUND' });
    for (const bad of ['0123', 'abc', '123456789012345678901']) {
      expect((await revoke(api.tokens.bob, bad)).statusCode).toBe(400);
    }
    expect((await revoke(api.tokens.alice, serial, { reason: '' })).statusCode).toBe(400);
    expect((await revoke(api.tokens.alice, serial, { reason: 'x', extra: true })).statusCode).toBe(400);
    expect(api.rowCounts()).toEqual(before);

    expect((await revoke(api.tokens.alice, serial)).statusCode).toBe(200);
    const again = await revoke(api.tokens.bob, serial);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect(api.rowCounts().audit_log).toBe(before.audit_log + 1);
  });
  it("shows an issued request's certificate as valid, then revoked (when, by whom, why), in the list and the request", async () => {
    const { serial } = await issueForAlice();
    const mine = async () =>
      (await api.app.inject({ method: 'GET', url: '/v1/requests?mine&state=issued', headers: { authorization: `Bearer ${api.tokens.alice}` } })).json();
    const listed = (await mine()).requests.find((request: { serial?: string }) => request.serial === serial);
    expect(listed.certificate).toEqual({ serial, validAfter: expect.any(String), validBefore: expect.any(String), state: 'valid' });
    expect(Date.parse(listed.certificate.validBefore) - Date.parse(listed.certificate.validAfter)).toBeGreaterThan(10 * 60_000);

    expect((await revoke(api.tokens.alice, serial, { reason: 'laptop left on a train' })).statusCode).toBe(200);
    const revoked = { state: 'revoked', revoked: { at: expect.any(String), by: 'alice', reason: 'laptop left on a train' } };
    expect((await mine()).requests.find((request: { serial?: string }) => request.serial === serial).certificate).toMatchObject(revoked);
    const one = await api.app.inject({ method: 'GET', url: `/v1/requests/${listed.requestId}`, headers: { authorization: `Bearer ${api.tokens.alice}` } });
    expect(one.json().certificate).toMatchObject({ serial, ...revoked });
  });
});
