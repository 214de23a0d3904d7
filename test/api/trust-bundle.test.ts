/**
 * GET /v1/trust/bundle.json: every trusted generation of both CAs, signed through the HSM by the
 * active SSH user CA key, with an ETag; and the host reports trust-sync sends with it.
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { compactVerify, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { kubeCaCertificatePath } from '../../src/issuance/kube-client-ca.ts';
import type { TrustBundleDocument } from '../../src/issuance/signed-trust-bundle.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { addNextSshGeneration } from '../support/ca-generations.ts';

describe.each(['ed25519', 'ecdsa-p256'] as const)('GET /v1/trust/bundle.json with an %s SSH user CA', (algorithm) => {
  let ca: CaFixture;
  let app: FastifyInstance;
  let dir: string;

  beforeAll(async () => {
    ca = await createCaFixture({ keyAlgorithm: algorithm });
    app = buildApp(ca.runtime, { authenticator: createApiAuthenticator(undefined, undefined), logger: false });
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-bundle-'));
  });
  afterAll(async () => {
    await app?.close();
    await ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const fetchBundle = (headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: '/v1/trust/bundle.json', headers });

  async function verified(jws: string, generation: number): Promise<TrustBundleDocument> {
    const spki = ca.runtime.keys.requireSigner({ caName: ca.config.ssh.caName, generation }).spki;
    const { payload, protectedHeader } = await compactVerify(jws, createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), {
      algorithms: [algorithm === 'ed25519' ? 'EdDSA' : 'ES256'],
    });
    expect(protectedHeader).toEqual({ alg: algorithm === 'ed25519' ? 'EdDSA' : 'ES256', kid: `${ca.config.ssh.caName}/${generation}`, typ: 'jitca-trust-bundle+jws' });
    return JSON.parse(Buffer.from(payload).toString('utf8')) as TrustBundleDocument;
  }

  it('is signed by the active generation, lists both CAs with the fingerprints ssh-keygen and openssl print, and answers 304 to its ETag', async () => {
    const response = await fetchBundle();
    expect(response.statusCode).toBe(200);
    const document = await verified(response.body, 1);
    expect(document.generations.map(({ ca: kind, generation, state }) => [kind, generation, state])).toEqual([
      ['ssh-user', 1, 'active'],
      ['kube-client', 1, 'active'],
    ]);
    const [ssh, kube] = document.generations;
    const keyFile = path.join(dir, 'ca.pub');
    writeFileSync(keyFile, `${ssh?.sshPublicKey}\n`);
    expect(execFileSync('ssh-keygen', ['-l', '-f', keyFile], { encoding: 'utf8' }).split(' ')[1]).toBe(ssh?.fingerprint);
    const opensslFingerprint = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', kubeCaCertificatePath(ca.config, 1)], { encoding: 'utf8' });
    expect(opensslFingerprint.trim().split('=')[1]?.replaceAll(':', '').toLowerCase()).toBe(kube?.fingerprint);

    const etag = response.headers.etag as string;
    expect((await fetchBundle({ 'if-none-match': etag })).statusCode).toBe(304);
  });

  it('changes when the generations change, still signed by the active one', async () => {
    const before = await fetchBundle();
    await addNextSshGeneration(ca, 2, algorithm);
    const after = await fetchBundle({ 'if-none-match': before.headers.etag as string });
    expect(after.statusCode).toBe(200);
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect(decodeProtectedHeader(after.body).kid).toBe(`${ca.config.ssh.caName}/1`);
    const document = await verified(after.body, 1);
    expect(document.generations.filter((generation) => generation.ca === 'ssh-user').map(({ generation, state }) => [generation, state])).toEqual([
      [1, 'active'],
      [2, 'next'],
    ]);
    // Signed by generation 1, so generation 2's key does not verify it.
    await expect(verified(after.body, 2)).rejects.toThrow();
  });
});

describe('host reports sent with GET /v1/trust/bundle.json', () => {
  let ca: CaFixture;
  let app: FastifyInstance;
  const fingerprint = `SHA256:${'Q'.repeat(43)}`;

  beforeAll(async () => {
    ca = await createCaFixture();
    app = buildApp(ca.runtime, { authenticator: createApiAuthenticator(undefined, undefined), logger: false });
  });
  afterAll(async () => {
    await app?.close();
    await ca?.cleanup();
  });

  const hosts = async () => (await ca.runtime.store.listHostReports('1970-01-01T00:00:00.000Z')).map(({ host, installed }) => ({ host, installed }));

  it('records the host and the fingerprints it has installed', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/trust/bundle.json', headers: { 'x-jitca-host': 'web-1.example', 'x-jitca-installed': fingerprint } });
    expect(response.statusCode).toBe(200);
    expect(await hosts()).toEqual([{ host: 'web-1.example', installed: [fingerprint] }]);
  });

  it.each([
    ['an empty host name', { 'x-jitca-host': '' }, 'host'],
    ['a host name of 254 characters', { 'x-jitca-host': 'a'.repeat(254) }, 'host'],
    ['spaces and slashes', { 'x-jitca-host': 'web 1/../x' }, 'host'],
    ['a leading dot', { 'x-jitca-host': '.web' }, 'host'],
    ['fingerprints without a host', { 'x-jitca-installed': fingerprint }, 'host'],
    ['something else as fingerprints', { 'x-jitca-host': 'web-2', 'x-jitca-installed': 'MD5:aa:bb' }, 'installed'],
    ['17 fingerprints', { 'x-jitca-host': 'web-2', 'x-jitca-installed': Array.from({ length: 17 }, (_, i) => `SHA256:${String.fromCharCode(65 + i).repeat(43)}`).join(',') }, 'installed'],
  ])('refuses %s with 400 ERR_HOST_REPORT_INVALID and records nothing', async (_what, headers, field) => {
    const before = await hosts();
    const response = await app.inject({ method: 'GET', url: '/v1/trust/bundle.json', headers });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'ERR_HOST_REPORT_INVALID', details: { field } });
    expect(await hosts()).toEqual(before);
  });
});
