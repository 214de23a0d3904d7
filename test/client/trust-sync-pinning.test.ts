/**
 * trust-sync installs TrustedUserCAKeys only from a bundle.json signed by a key the host already
 * trusts (trust on first use, pinned afterwards), and reports what it has installed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { syncTrustFiles } from '../../src/client/trust-sync.ts';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { signTrustBundle, sshFingerprintOf } from '../../src/issuance/signed-trust-bundle.ts';
import { formatAuthorizedKeysLine, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { sshTrustBundle } from '../../src/issuance/trust-bundle.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { addNextSshGeneration, setSshGenerationStates } from '../support/ca-generations.ts';
import { createMemorySigner } from '../support/memory-signer.ts';

interface ServedCa {
  ca: CaFixture;
  app: FastifyInstance;
  url: string;
}

async function serveCa(): Promise<ServedCa> {
  const ca = await createCaFixture();
  const app = buildApp(ca.runtime, { authenticator: createApiAuthenticator(undefined, undefined), logger: false });
  return { ca, app, url: await app.listen({ host: '127.0.0.1', port: 0 }) };
}

/**
 * Another CA (one SoftHSM2 per process: a key in memory instead): a bundle valid in itself, signed
 * by the key it lists under the same kid as ours, served by a server of its own.
 */
async function serveStranger(): Promise<{ url: string; server: Server }> {
  const signer = createMemorySigner({ kind: 'ed25519' }, 'ssh-user-ca/1');
  const key = sshPublicKeyFromKeyObject(signer.publicKey);
  const { jws } = await signTrustBundle(
    {
      format: 'jitca-trust-bundle/1',
      generations: [
        {
          ca: 'ssh-user',
          generation: 1,
          keyId: signer.keyId,
          state: 'active',
          algorithm: 'ed25519',
          createdAt: new Date().toISOString(),
          publicKey: Buffer.from(signer.spki).toString('base64'),
          fingerprint: key.fingerprint,
          sshPublicKey: formatAuthorizedKeysLine(key, 'jitca:ssh-user-ca/1'),
        },
      ],
    },
    signer,
  );
  const server = createServer((_request, response) => response.writeHead(200).end(jws));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('trust-sync: trust on first use, pinned afterwards', () => {
  let ours: ServedCa;
  let stranger: { url: string; server: Server };
  let dir: string;

  beforeAll(async () => {
    ours = await serveCa();
    stranger = await serveStranger();
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-pinning-'));
  });
  afterAll(async () => {
    await ours?.app.close();
    await ours?.ca.cleanup();
    await new Promise((resolve) => stranger?.server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const caFile = (host: string) => path.join(dir, `${host}.trusted_user_ca_keys`);
  const sync = (server: { url: string }, host: string) => syncTrustFiles({ server: server.url, targets: [{ kind: 'ssh-user-ca', file: caFile(host) }], host });
  const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);
  const reported = async (host: string) => (await ours.ca.runtime.store.listHostReports('1970-01-01T00:00:00.000Z')).find((row) => row.host === host)?.installed;

  it('would trust the other CA on first use: its bundle is valid in itself', async () => {
    expect(await sync(stranger, 'fresh')).toMatchObject([{ outcome: 'updated' }]);
  });

  it('installs the first bundle it sees (signed by a key the bundle lists), then refuses one signed by any other CA and changes nothing', async () => {
    expect(await sync(ours, 'web-1')).toMatchObject([{ outcome: 'updated' }]);
    expect(readFileSync(caFile('web-1'), 'utf8')).toBe(sshTrustBundle(ours.ca.runtime));
    const inode = statSync(caFile('web-1')).ino;

    // Another CA's bundle is valid in itself (signed by a key it lists, with the same kid), but not by a key web-1 trusts.
    const error = await refusal(sync(stranger, 'web-1'));
    expect(isJitcaError(error, ErrorCodes.TRUST_BUNDLE_UNTRUSTED)).toBe(true);
    expect((error as Error).message).toMatch(/not signed by any of the 1 SSH user CA keys this host trusts; nothing was installed$/);
    expect(readFileSync(caFile('web-1'), 'utf8')).toBe(sshTrustBundle(ours.ca.runtime));
    expect(statSync(caFile('web-1')).ino).toBe(inode);
  });

  it('follows a rotation: next published under the old signer, then the promoted generation signs and is accepted', async () => {
    // web-2 trusts only generation 1, and misses the publication of generation 2.
    writeFileSync(caFile('web-2'), readFileSync(caFile('web-1')));
    await addNextSshGeneration(ours.ca, 2);
    const [first, second] = ours.ca.runtime.keyring.trusted('ssh-user');
    if (first === undefined || second === undefined) throw new Error('expected two generations');

    expect(await sync(ours, 'web-1')).toMatchObject([{ outcome: 'updated' }]);
    expect(readFileSync(caFile('web-1'), 'utf8')).toBe(sshTrustBundle(ours.ca.runtime));
    // The report is what was installed before this fetch; the next fetch reports generation 2.
    expect(await reported('web-1')).toEqual([sshFingerprintOf(first)]);

    await setSshGenerationStates(ours.ca, { 1: 'retiring', 2: 'active' });
    const bundle = (await ours.app.inject({ method: 'GET', url: '/v1/trust/bundle.json' })).body;
    expect(decodeProtectedHeader(bundle).kid).toBe(second.keyId);
    expect(await sync(ours, 'web-1')).toMatchObject([{ outcome: 'unchanged' }]);
    expect(await reported('web-1')).toEqual([sshFingerprintOf(first), sshFingerprintOf(second)].sort());

    // web-2 never installed generation 2: a bundle it signs is refused, web-2 keeps generation 1.
    const error = await refusal(sync(ours, 'web-2'));
    expect(isJitcaError(error, ErrorCodes.TRUST_BUNDLE_UNTRUSTED)).toBe(true);
    expect(readFileSync(caFile('web-2'), 'utf8')).toBe(readFileSync(caFile('web-1'), 'utf8').split('\n')[0] + '\n');
  });

  it('refuses a current file it cannot read as keys rather than trusting the network, and a host name the CA would refuse', async () => {
    writeFileSync(caFile('web-3'), 'not a key\n');
    expect(isJitcaError(await refusal(sync(ours, 'web-3')), ErrorCodes.TRUST_BUNDLE_UNTRUSTED)).toBe(true);
    expect(readFileSync(caFile('web-3'), 'utf8')).toBe('not a key\n');
    expect(isJitcaError(await refusal(sync(ours, 'web 3')), ErrorCodes.REQUEST_INVALID)).toBe(true);
  });
});
