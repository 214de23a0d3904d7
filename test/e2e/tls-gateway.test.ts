import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppFromConfig } from '../../src/api/api-from-config.ts';
import { parseCertificate } from '../../src/ssh/certificate.ts';
import { API_AUDIENCE, accounts } from '../support/api-fixture.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

/** A throwaway CA and a certificate it signs, made by the real openssl. */
function issueWithOpenssl(dir: string, name: string, subject: string, ca: string | undefined, extensions: string): void {
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  if (ca === undefined) {
    execFileSync('openssl', ['req', '-x509', '-new', '-key', key, '-subj', subject, '-days', '1', '-out', path.join(dir, `${name}.pem`), '-extensions', 'v3', '-config', ext]);
    return;
  }
  const csr = path.join(dir, `${name}.csr`);
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  execFileSync('openssl', [
    'x509', '-req', '-in', csr, '-CA', path.join(dir, `${ca}.pem`), '-CAkey', path.join(dir, `${ca}.key`), '-CAcreateserial',
    '-days', '1', '-out', path.join(dir, `${name}.pem`), '-extfile', ext, '-extensions', 'v3',
  ]);
}

describe('the API over TLS, with the gateway authenticated by its client certificate', () => {
  let ca: CaFixture;
  let oidc: OidcTestProvider;
  let app: FastifyInstance;
  let key: TempSshKey;
  let port: number;
  let dir: string;

  beforeAll(async () => {
    ca = await createCaFixture();
    oidc = await startOidcProvider({ accounts, audience: API_AUDIENCE });
    key = createTempSshKey('jitca-tls-');
    dir = key.dir;
    const caExt = '[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n';
    issueWithOpenssl(dir, 'server-ca', '/CN=test server CA', undefined, caExt);
    issueWithOpenssl(dir, 'server', '/CN=localhost', 'server-ca', '[v3]\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    issueWithOpenssl(dir, 'gateway-ca', '/CN=test gateway CA', undefined, caExt);
    issueWithOpenssl(dir, 'gateway', '/CN=jitca-gateway', 'gateway-ca', '[v3]\nextendedKeyUsage=clientAuth\n');
    issueWithOpenssl(dir, 'intruder', '/CN=someone-else', 'gateway-ca', '[v3]\nextendedKeyUsage=clientAuth\n');
    const config = {
      ...ca.config,
      server: {
        ...ca.config.server,
        logLevel: 'warn' as const,
        tls: { certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key'), clientCaFile: path.join(dir, 'gateway-ca.pem') },
      },
      oidc: { issuer: oidc.issuer, audience: API_AUDIENCE, jwksUri: oidc.jwksUri },
      gateway: { certificates: [{ service: 'ssh-gateway', commonName: 'jitca-gateway' }] },
    };
    app = await buildAppFromConfig(ca.runtime, config, false);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app?.close();
    await oidc?.close();
    await ca?.cleanup();
    key?.cleanup();
  });

  function post(headers: Record<string, string>, client?: 'gateway' | 'intruder'): Promise<{ status: number; body: Record<string, unknown> }> {
    const payload = JSON.stringify({ publicKey: key.publicKey, role: 'oncall-payments', reason: 'tls test' });
    return new Promise((resolve, reject) => {
      const request = https.request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/ssh/certificates',
          method: 'POST',
          ca: readFileSync(path.join(dir, 'server-ca.pem')),
          ...(client === undefined ? {} : { cert: readFileSync(path.join(dir, `${client}.pem`)), key: readFileSync(path.join(dir, `${client}.key`)) }),
          headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)), ...headers },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  it('serves engineers over TLS without a client certificate', async () => {
    const response = await post({ authorization: `Bearer ${await oidc.tokenFor('alice')}` });
    expect(response.status).toBe(201);
    expect(parseCertificate(String(response.body['certificate'])).keyId).toMatch(/^alice\//);
  });

  it('accepts the gateway by its allow-listed client certificate, acting for the engineer', async () => {
    const response = await post({ 'x-jitca-on-behalf-of': await oidc.tokenFor('alice') }, 'gateway');
    expect(response.status).toBe(201);
    const record = (await ca.runtime.store.listAudit()).find((entry) => entry.requestId === response.body['requestId']);
    expect(record).toMatchObject({ actor: 'ssh-gateway', subject: 'alice' });
  });

  it('refuses a certificate from the gateway CA whose name is not allow-listed, and a gateway without a credential', async () => {
    const intruder = await post({ 'x-jitca-on-behalf-of': await oidc.tokenFor('alice') }, 'intruder');
    expect(intruder.status).toBe(401);
    expect(String(intruder.body['code'])).toMatch(/^ERR_AUTHN_/);
    const bare = await post({ 'x-jitca-on-behalf-of': await oidc.tokenFor('alice') });
    expect(bare.status).toBe(401);
  });
});
