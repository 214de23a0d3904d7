import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKubeKeyAndCsr } from '../../src/client/kube-credential-key.ts';
import { parseCsr } from '../../src/x509/csr.ts';

const work = mkdtempSync(path.join(tmpdir(), 'jitca-kube-key-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('kube credential key and CSR', () => {
  it('is an ECDSA P-256 key in PKCS#8 PEM with a CSR the CA accepts for that key', () => {
    const { privateKeyPem, csrPem } = generateKubeKeyAndCsr();
    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    const key = createPrivateKey(privateKeyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    // The server's own parser: strict DER, canonical, self-signature verified.
    const csr = parseCsr(csrPem);
    expect(csr.keyAlgorithm).toEqual({ kind: 'ecdsa', curve: 'P-256' });
    expect(csr.signatureAlgorithm).toBe('ecdsa-with-SHA256');
    expect(csr.subject.organizations).toEqual([]);
    expect(csr.publicKey.equals(createPublicKey(key))).toBe(true);
  });

  it('is a request OpenSSL verifies too', () => {
    const file = path.join(work, 'req.pem');
    writeFileSync(file, generateKubeKeyAndCsr().csrPem);
    const text = execFileSync('openssl', ['req', '-in', file, '-noout', '-verify', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(text).toMatch(/Subject: CN ?= ?jitca-kube-credential/);
    expect(text).toMatch(/NIST CURVE: P-256/);
  });

  it('makes a new key every time (a leaked cache file does not outlive its certificate)', () => {
    const first = generateKubeKeyAndCsr();
    const second = generateKubeKeyAndCsr();
    expect(first.privateKeyPem).not.toBe(second.privateKeyPem);
    expect(first.csrPem).not.toBe(second.csrPem);
  });
});
