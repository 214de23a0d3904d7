import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  kubeCredentialCachePath,
  needsRefresh,
  readCachedKubeCredential,
  writeCachedKubeCredential,
  type KubeCredential,
} from '../../src/client/kube-credential-cache.ts';
import { generateKubeKeyAndCsr } from '../../src/client/kube-credential-key.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { createCaCertificate } from '../../src/x509/ca-certificate.ts';
import { parseCsr } from '../../src/x509/csr.ts';
import { issueClientCertificate } from '../../src/x509/issue-client-certificate.ts';
import { codeOf } from '../support/error-codes.ts';
import { createMemorySigner } from '../support/memory-signer.ts';

const SERVER = 'https://jitca.example:8443';
const ALICE = { issuer: 'https://idp.example', subject: 'alice', groups: ['oncall-payments'] };
const SCOPE = { server: SERVER, cluster: 'prod', identity: ALICE };
const MINUTE = 60_000;
const start = Date.UTC(2030, 0, 1, 12, 0, 0);

const caSigner = createMemorySigner({ kind: 'ecdsa', curve: 'P-256' }, 'kube-client-ca/1');
let caCertificate: Uint8Array;

beforeAll(async () => {
  caCertificate = (
    await createCaCertificate({ signer: caSigner, commonName: 'test kube client CA', notBefore: new Date(start - 86_400_000), notAfter: new Date(start + 86_400_000), serial: 77n })
  ).der;
});

/** A credential as the CA would issue it: real key, real certificate, real dates. */
async function credential(lifetimeMs: number, serial = 1000n, commonName = 'alice'): Promise<KubeCredential> {
  const { privateKeyPem, csrPem } = generateKubeKeyAndCsr();
  const notBefore = new Date(start);
  const notAfter = new Date(start + lifetimeMs);
  const { pem } = await issueClientCertificate({
    csr: parseCsr(csrPem),
    subject: { commonName, organizations: ['jit:oncall:payments'] },
    serial,
    notBefore,
    notAfter,
    ca: { signer: caSigner, certificate: caCertificate },
  });
  return { certificatePem: pem, privateKeyPem, serial: serial.toString(), notBefore, notAfter };
}

describe('refresh rule: less than max(60 s, 10% of the lifetime) left', () => {
  const dates = (lifetimeMs: number) => ({ notBefore: new Date(start), notAfter: new Date(start + lifetimeMs) });

  it('keeps a 30 m certificate until 3 m are left', () => {
    const cert = dates(30 * MINUTE);
    expect(needsRefresh(cert, start)).toBe(false);
    expect(needsRefresh(cert, start + 27 * MINUTE)).toBe(false);
    expect(needsRefresh(cert, start + 27 * MINUTE + 1)).toBe(true);
    expect(needsRefresh(cert, start + 40 * MINUTE)).toBe(true);
  });

  it('keeps a 5 m certificate until 60 s are left (10% would be only 30 s)', () => {
    const cert = dates(5 * MINUTE);
    expect(needsRefresh(cert, start + 4 * MINUTE)).toBe(false);
    expect(needsRefresh(cert, start + 4 * MINUTE + 1)).toBe(true);
  });

  it('refreshes a certificate shorter than 60 s at once', () => {
    expect(needsRefresh(dates(50_000), start)).toBe(true);
  });
});

describe('kube credential cache file', () => {
  let home: string;
  let file: string;
  beforeEach(() => {
    home = mkdtempSync(path.join(tmpdir(), 'jitca-kube-cache-'));
    file = kubeCredentialCachePath({ tokenCache: path.join(home, 'cache', 'token.json') }, 'prod');
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('lives next to the token cache, one file per cluster', () => {
    expect(file).toBe(path.join(home, 'cache', 'kube', 'prod.json'));
  });

  it('is written 0600 in a 0700 directory and read back with the certificate dates', async () => {
    const issued = await credential(30 * MINUTE);
    writeCachedKubeCredential(file, SCOPE, issued);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(readdirSync(path.dirname(file))).toEqual(['prod.json']); // no temporary left behind
    expect(readCachedKubeCredential(file, SCOPE)).toEqual(issued);
  });

  it('tightens a cache directory that already existed with looser permissions', async () => {
    mkdirSync(path.dirname(file), { recursive: true });
    chmodSync(path.dirname(file), 0o755);
    writeCachedKubeCredential(file, SCOPE, await credential(30 * MINUTE));
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  });

  it('replaces an older entry whole', async () => {
    writeCachedKubeCredential(file, SCOPE, await credential(30 * MINUTE, 1n));
    const second = await credential(30 * MINUTE, 2n);
    writeCachedKubeCredential(file, SCOPE, second);
    expect(readCachedKubeCredential(file, SCOPE)?.serial).toBe('2');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('is a miss when missing, not JSON, for another server or cluster, or when the key is not the certificate key', async () => {
    const scope = SCOPE;
    expect(readCachedKubeCredential(file, scope)).toBeUndefined();
    const issued = await credential(30 * MINUTE);
    writeCachedKubeCredential(file, scope, issued);
    expect(readCachedKubeCredential(file, { ...SCOPE, server: 'https://other:8443' })).toBeUndefined();
    expect(readCachedKubeCredential(file, { ...SCOPE, cluster: 'staging' })).toBeUndefined();

    const entry = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...entry, privateKey: generateKubeKeyAndCsr().privateKeyPem }));
    expect(readCachedKubeCredential(file, scope)).toBeUndefined();
    writeFileSync(file, JSON.stringify({ ...entry, certificate: 'not a certificate' }));
    expect(readCachedKubeCredential(file, scope)).toBeUndefined();
    writeFileSync(file, '{"version":1');
    expect(readCachedKubeCredential(file, scope)).toBeUndefined();
  });

  it('is a miss for anyone but the identity it was issued to: another subject, issuer or set of groups', async () => {
    writeCachedKubeCredential(file, SCOPE, await credential(30 * MINUTE));
    expect(readCachedKubeCredential(file, SCOPE)?.serial).toBe('1000');
    for (const identity of [
      { ...ALICE, subject: 'bob' },
      { ...ALICE, issuer: 'https://other-idp.example' },
      { ...ALICE, issuer: null },
      { ...ALICE, groups: [] },
      { ...ALICE, groups: ['oncall-payments', 'sre'] },
    ]) {
      expect(readCachedKubeCredential(file, { ...SCOPE, identity })).toBeUndefined();
    }
  });

  it('is a miss when the certificate’s CN is not the subject, whatever the entry says, and for entries that name no identity', async () => {
    // An entry claiming to be alice's but holding bob's certificate (edited, or from a bug).
    const bobs = await credential(30 * MINUTE, 7n, 'bob');
    writeCachedKubeCredential(file, SCOPE, bobs);
    expect(readCachedKubeCredential(file, SCOPE)).toBeUndefined();
    const bob = { ...SCOPE, identity: { ...ALICE, subject: 'bob' } };
    writeCachedKubeCredential(file, bob, bobs);
    expect(readCachedKubeCredential(file, bob)?.serial).toBe('7');

    // The cache format before identities: version 1, keyed by server and cluster only.
    writeCachedKubeCredential(file, SCOPE, await credential(30 * MINUTE));
    const { identity: _identity, ...entry } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...entry, version: 1 }));
    expect(readCachedKubeCredential(file, SCOPE)).toBeUndefined();
  });

  it.each(['../escape', 'a/b', '', '-prod', 'prod.', 'x'.repeat(64), 'pr od'])('refuses cluster name %j with ERR_REQUEST_INVALID and writes nothing', (cluster) => {
    expect(codeOf(() => kubeCredentialCachePath({ tokenCache: path.join(home, 'cache', 'token.json') }, cluster))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(existsSync(path.join(home, 'cache'))).toBe(false);
  });
});
