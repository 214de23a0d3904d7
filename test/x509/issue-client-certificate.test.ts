import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { openPkcs11Token, type Pkcs11Token } from '../../hsm/pkcs11-token.ts';
import type { KeyAlgorithm, Signer } from '../../src/keys/signer.ts';
import { ensureSoftHsmToken, readPinFile } from '../../hsm/softhsm-bootstrap.ts';
import { createCaCertificate } from '../../src/x509/ca-certificate.ts';
import { parseCsr, type ParsedCsr } from '../../src/x509/csr.ts';
import { issueClientCertificate, type IssueClientCertificateParams } from '../../src/x509/issue-client-certificate.ts';
import { SCOPE_EXTENSION_OID, decodeScopeExtension, readScopeExtension, type CertificateScope } from '../../src/x509/scope-extension.ts';
import { OpensslWorkspace, caughtAsync, expectCode, openssl, opensslOk, type TestKeyKind } from './openssl.ts';

interface TestCa {
  name: string;
  signer: Signer;
  pem: string;
  der: Uint8Array;
  file: string;
  signatureText: string;
}

const CA_ALGORITHMS: Array<[string, KeyAlgorithm, string]> = [
  ['ed25519', { kind: 'ed25519' }, 'ED25519'],
  ['ecdsa-p256', { kind: 'ecdsa', curve: 'P-256' }, 'ecdsa-with-SHA256'],
  ['ecdsa-p384', { kind: 'ecdsa', curve: 'P-384' }, 'ecdsa-with-SHA384'],
  ['rsa-3072', { kind: 'rsa', bits: 3072 }, 'sha256WithRSAEncryption'],
];
const CSR_KINDS: TestKeyKind[] = ['ed25519', 'p256', 'p384', 'rsa2048'];
const KEY_TEXT: Record<string, RegExp> = {
  ed25519: /Public Key Algorithm: ED25519/,
  p256: /Public-Key: \(256 bit\)[\s\S]*NIST CURVE: P-256/,
  p384: /Public-Key: \(384 bit\)[\s\S]*NIST CURVE: P-384/,
  rsa2048: /Public-Key: \(2048 bit\)/,
};

/** The approved identity: deliberately different from the CSR's "/CN=alice/O=oncall-payments". */
const IDENTITY = { commonName: 'alice.smith', organizations: ['payments-debug', 'sre'] };
const SCOPE: CertificateScope = { cluster: 'prod-eu', namespace: 'payments', pod: 'api-7f9c', approvalReference: 'req-01J9Z' };

let dataDir: string;
let token: Pkcs11Token;
let work: OpensslWorkspace;
const cas = new Map<string, TestCa>();
const csrs = new Map<TestKeyKind, ParsedCsr>();
const now = Math.floor(Date.now() / 1000) * 1000;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'jitca-x509-hsm-'));
  const softhsm = ensureSoftHsmToken({ dataDir, tokenLabel: 'jitca-x509-test' });
  token = openPkcs11Token({ modulePath: softhsm.modulePath, tokenLabel: 'jitca-x509-test', pin: readPinFile(softhsm.pinFile), sessions: 2 });
  work = new OpensslWorkspace();
  for (const [name, algorithm, signatureText] of CA_ALGORITHMS) {
    const signer = await token.generateKey(`k8s-client-ca-${name}`, 1, algorithm);
    const ca = await createCaCertificate({
      signer,
      commonName: `jitca kubernetes client CA ${name}`,
      notBefore: new Date(now - 3600_000),
      notAfter: new Date(now + 30 * 86400_000),
      serial: 0x1d2c3b4a5968778695a4b3c2n,
    });
    cas.set(name, { name, signer, ...ca, file: work.write(`ca-${name}.pem`, ca.pem), signatureText });
  }
  for (const kind of CSR_KINDS) csrs.set(kind, parseCsr(work.csr(work.key(kind), '/CN=alice/O=oncall-payments')));
});

afterAll(() => {
  token?.close();
  work?.cleanup();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

function ca(name: string): TestCa {
  const found = cas.get(name);
  if (found === undefined) throw new Error(`no CA ${name}`);
  return found;
}

function csr(kind: TestKeyKind): ParsedCsr {
  const found = csrs.get(kind);
  if (found === undefined) throw new Error(`no CSR ${kind}`);
  return found;
}

function params(caName: string, csrKind: TestKeyKind, overrides: Partial<IssueClientCertificateParams> = {}): IssueClientCertificateParams {
  const issuer = ca(caName);
  return {
    csr: csr(csrKind),
    subject: IDENTITY,
    serial: 0x7a3f9c21e04b5d68n,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + 15 * 60_000),
    scope: SCOPE,
    ca: { signer: issuer.signer, certificate: issuer.der },
    ...overrides,
  };
}

/** RFC 5280 §4.2.1.2 method 1, computed from node's view of the key rather than from DER. */
function expectedKeyIdentifier(publicKey: KeyObject): string {
  let bits: Buffer;
  if (publicKey.asymmetricKeyType === 'rsa') {
    bits = publicKey.export({ format: 'der', type: 'pkcs1' });
  } else {
    const jwk = publicKey.export({ format: 'jwk' });
    const x = Buffer.from(jwk.x ?? '', 'base64url');
    bits = jwk.kty === 'OKP' ? x : Buffer.concat([Buffer.from([4]), x, Buffer.from(jwk.y ?? '', 'base64url')]);
  }
  return createHash('sha1').update(bits).digest('hex').toUpperCase().match(/../g)?.join(':') ?? '';
}

/** Extension OIDs in order and the scope extension's value, as `openssl asn1parse` reads them. */
function extensionsByOpenssl(certFile: string): { oids: string[]; scopeHex?: string } {
  const lines = opensslOk(['asn1parse', '-in', certFile]).split('\n');
  const start = lines.findIndex((line) => line.includes(':X509v3 Basic Constraints'));
  const oids: string[] = [];
  let scopeHex: string | undefined;
  for (let index = start; index >= 0 && index < lines.length; index += 1) {
    const line = lines[index] ?? '';
    if (/d=1 /.test(line)) break; // back at the Certificate level: the signature algorithm
    const oid = /OBJECT\s+:(.*)$/.exec(line)?.[1]?.trim();
    if (oid === undefined) continue;
    oids.push(oid);
    if (oid === SCOPE_EXTENSION_OID) scopeHex = /\[HEX DUMP\]:([0-9A-F]+)/.exec(lines[index + 1] ?? '')?.[1];
  }
  return scopeHex === undefined ? { oids } : { oids, scopeHex };
}

function textOf(certFile: string): string {
  return opensslOk(['x509', '-in', certFile, '-text', '-noout']);
}

describe('client certificates signed by a CA key in SoftHSM2, checked with openssl', () => {
  const combinations = CA_ALGORITHMS.flatMap(([caName]) => CSR_KINDS.map((kind) => [caName, kind] as const));

  it.each(combinations)('%s CA, %s CSR from openssl req: openssl verify -purpose sslclient accepts it', async (caName, kind) => {
    const issuer = ca(caName);
    const issued = await issueClientCertificate(params(caName, kind));
    const file = work.write(`cert-${caName}-${kind}.pem`, issued.pem);
    expect(Buffer.from(new X509Certificate(issued.pem).raw)).toEqual(Buffer.from(issued.der));

    const verdict = openssl(['verify', '-purpose', 'sslclient', '-x509_strict', '-CAfile', issuer.file, file]);
    expect(verdict.stdout.trim()).toBe(`${file}: OK`);
    expect(verdict.status).toBe(0);
    // Not usable as a TLS server certificate.
    expect(openssl(['verify', '-purpose', 'sslserver', '-CAfile', issuer.file, file]).status).not.toBe(0);

    const text = textOf(file);
    expect(text).toContain('Version: 3 (0x2)');
    expect(text).toMatch(/Subject: O = payments-debug, O = sre, CN = alice\.smith\n/);
    expect(text).not.toContain('oncall-payments'); // the CSR's O
    expect(text).not.toMatch(/CN = alice\n/); // the CSR's CN
    expect(text).toContain(`Issuer: CN = jitca kubernetes client CA ${caName}\n`);
    expect(text).toMatch(new RegExp(`Signature Algorithm: ${issuer.signatureText}\\n`));
    expect(text).toMatch(KEY_TEXT[kind] ?? /never/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
    expect(text).not.toContain('Subject Alternative Name');
    expect(text).toContain(`X509v3 Subject Key Identifier: \n                ${expectedKeyIdentifier(csr(kind).publicKey)}\n`);
    const caKeyId = /X509v3 Subject Key Identifier: \n\s+([0-9A-F:]+)\n/.exec(textOf(issuer.file))?.[1];
    expect(caKeyId).toBe(expectedKeyIdentifier(issuer.signer.publicKey));
    expect(text).toMatch(new RegExp(`X509v3 Authority Key Identifier: \\n\\s+(keyid:)?${caKeyId}\\n`));

    const dates = opensslOk(['x509', '-in', file, '-noout', '-startdate', '-enddate', '-serial']);
    expect(Date.parse(/notBefore=(.*)/.exec(dates)?.[1] ?? '')).toBe(now - 5 * 60_000);
    expect(Date.parse(/notAfter=(.*)/.exec(dates)?.[1] ?? '')).toBe(now + 15 * 60_000);
    expect(dates).toContain('serial=7A3F9C21E04B5D68');

    // Exactly these extensions, in this order; the scope's bytes decode back to the scope.
    const { oids, scopeHex } = extensionsByOpenssl(file);
    expect(oids).toEqual([
      'X509v3 Basic Constraints',
      'X509v3 Key Usage',
      'X509v3 Extended Key Usage',
      'X509v3 Subject Key Identifier',
      'X509v3 Authority Key Identifier',
      SCOPE_EXTENSION_OID,
    ]);
    expect(text).toContain(`${SCOPE_EXTENSION_OID}: \n`); // not critical: openssl would print "critical"
    expect(decodeScopeExtension(Uint8Array.from(Buffer.from(scopeHex ?? '', 'hex')))).toEqual(SCOPE);
    expect(readScopeExtension(issued.der)).toEqual(SCOPE);
  });

  it.each(CA_ALGORITHMS.map(([name]) => name))('%s CA certificate: self-signed, CA:TRUE pathlen 0, keyCertSign and cRLSign', (caName) => {
    const issuer = ca(caName);
    expect(opensslOk(['verify', '-x509_strict', '-CAfile', issuer.file, issuer.file]).trim()).toBe(`${issuer.file}: OK`);
    const text = textOf(issuer.file);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);
    expect(text).toContain(`Subject: CN = jitca kubernetes client CA ${caName}\n`);
    expect(text).toContain(`Issuer: CN = jitca kubernetes client CA ${caName}\n`);
    expect(text).not.toContain('Authority Key Identifier');
    // The certified key is the HSM key: node reads the same public key back.
    expect(new X509Certificate(issuer.pem).publicKey.equals(issuer.signer.publicKey)).toBe(true);
  });

  it('a CSR asking for CA:TRUE, SANs, serverAuth and keyCertSign gets none of them', async () => {
    const greedy = parseCsr(
      work.csr(work.key('p256'), '/CN=system:admin/O=system:masters', [
        'basicConstraints=critical,CA:TRUE',
        'subjectAltName=DNS:kubernetes.default.svc,IP:10.96.0.1',
        'extendedKeyUsage=serverAuth,clientAuth,codeSigning',
        'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
      ]),
    );
    expect(greedy.requestedExtensions.basicConstraints).toEqual({ ca: true }); // it did ask
    const issued = await issueClientCertificate({ ...params('ed25519', 'p256'), csr: greedy });
    const file = work.write('greedy.pem', issued.pem);
    const text = textOf(file);
    expect(text).toContain('CA:FALSE');
    for (const absent of ['CA:TRUE', 'Subject Alternative Name', 'kubernetes.default', 'Server Authentication', 'Code Signing', 'Certificate Sign', 'CRL Sign', 'system:']) {
      expect(text).not.toContain(absent);
    }
    expect(text).toMatch(/Subject: O = payments-debug, O = sre, CN = alice\.smith\n/);
    expect(openssl(['verify', '-purpose', 'sslserver', '-CAfile', ca('ed25519').file, file]).status).not.toBe(0);
    // OpenSSL's own reading agrees: not a CA certificate.
    expect(new X509Certificate(issued.der).ca).toBe(false);
  });

  it('without a scope there is no scope extension; keyEncipherment only for RSA keys when asked', async () => {
    const { scope: _scope, ...unscoped } = params('ecdsa-p256', 'rsa2048');
    const rsa = await issueClientCertificate({ ...unscoped, rsaKeyEncipherment: true });
    const rsaFile = work.write('rsa-ke.pem', rsa.pem);
    expect(readScopeExtension(rsa.der)).toBeUndefined();
    expect(extensionsByOpenssl(rsaFile).oids).not.toContain(SCOPE_EXTENSION_OID);
    expect(textOf(rsaFile)).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
    expect(opensslOk(['verify', '-purpose', 'sslclient', '-CAfile', ca('ecdsa-p256').file, rsaFile]).trim()).toBe(`${rsaFile}: OK`);

    const ed = await issueClientCertificate({ ...params('ecdsa-p256', 'ed25519'), rsaKeyEncipherment: true });
    expect(textOf(work.write('ed-ke.pem', ed.pem))).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature\n/);
  });
});

describe('validity encoding', () => {
  it('uses UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), and openssl agrees on the instants', async () => {
    const signer = ca('ed25519').signer;
    const longCa = await createCaCertificate({
      signer,
      commonName: 'jitca long-lived test CA',
      notBefore: new Date(Date.UTC(2049, 0, 1)),
      notAfter: new Date(Date.UTC(2051, 0, 1)),
      serial: 99n,
    });
    const notBefore = new Date(Date.UTC(2049, 11, 31, 23, 59, 0));
    const notAfter = new Date(Date.UTC(2050, 0, 1, 0, 10, 0));
    const issued = await issueClientCertificate({ ...params('ed25519', 'p256'), notBefore, notAfter, ca: { signer, certificate: longCa.der } });
    const file = work.write('y2050.pem', issued.pem);
    const parsed = opensslOk(['asn1parse', '-in', file]);
    expect(parsed).toMatch(/UTCTIME\s+:491231235900Z/);
    expect(parsed).toMatch(/GENERALIZEDTIME\s+:20500101001000Z/);
    const caFile = work.write('y2050-ca.pem', longCa.pem);
    const at = String(Date.UTC(2050, 0, 1, 0, 5) / 1000);
    expect(opensslOk(['verify', '-attime', at, '-purpose', 'sslclient', '-CAfile', caFile, file]).trim()).toBe(`${file}: OK`);
    const later = String(Date.UTC(2050, 0, 1, 0, 11) / 1000);
    expect(openssl(['verify', '-attime', later, '-CAfile', caFile, file]).status).not.toBe(0); // expired a second after notAfter
  });
});

describe('issuance refusals', () => {
  it('a signer returning a wrong signature is ERR_HSM_FAILURE and no certificate comes out', async () => {
    const real = ca('ecdsa-p256').signer;
    const corrupting: Signer = {
      keyId: real.keyId,
      algorithm: real.algorithm,
      publicKey: real.publicKey,
      spki: real.spki,
      async sign(data, options) {
        const signature = await real.sign(data, options);
        signature[10] = (signature[10] ?? 0) ^ 0x40;
        return signature;
      },
    };
    const shortened: Signer = { ...corrupting, sign: async (data, options) => (await real.sign(data, options)).subarray(1) };
    for (const signer of [corrupting, shortened]) {
      const error = await caughtAsync(() => issueClientCertificate({ ...params('ecdsa-p256', 'ed25519'), ca: { signer, certificate: ca('ecdsa-p256').der } }));
      expectCode(error, ErrorCodes.HSM_FAILURE);
    }
  });

  it("a CA certificate for another key, or one that is not a CA, is ERR_CONFIG_INVALID", async () => {
    const mismatched = { signer: ca('ed25519').signer, certificate: ca('ecdsa-p256').der };
    expectCode(await caughtAsync(() => issueClientCertificate({ ...params('ed25519', 'p256'), ca: mismatched })), ErrorCodes.CONFIG_INVALID);
    // An end-entity certificate for the very same key (CA:FALSE) cannot serve as the CA certificate.
    const leafForCaKey = await issueClientCertificate({ ...params('ecdsa-p256', 'ed25519'), csr: { ...csr('ed25519'), spki: ca('ed25519').signer.spki } });
    expect(new X509Certificate(leafForCaKey.der).publicKey.equals(ca('ed25519').signer.publicKey)).toBe(true);
    const notCa = { signer: ca('ed25519').signer, certificate: leafForCaKey.der };
    expectCode(await caughtAsync(() => issueClientCertificate({ ...params('ed25519', 'p256'), ca: notCa })), ErrorCodes.CONFIG_INVALID);
    const garbage = { signer: ca('ed25519').signer, certificate: Uint8Array.from([0x30, 0x00]) };
    expectCode(await caughtAsync(() => issueClientCertificate({ ...params('ed25519', 'p256'), ca: garbage })), ErrorCodes.CONFIG_INVALID);
  });

  it('bad validity, serial, subject or scope is ERR_REQUEST_INVALID', async () => {
    const cases: Array<Partial<IssueClientCertificateParams>> = [
      { notBefore: new Date(now), notAfter: new Date(now) },
      { notBefore: new Date(now + 1000), notAfter: new Date(now) },
      { notBefore: new Date(Number.NaN) },
      { notAfter: new Date(now + 31 * 86400_000) }, // outlives the CA certificate
      { serial: 0n },
      { serial: -5n },
      { serial: 1n << 160n }, // 21 octets
      { subject: { commonName: '', organizations: [] } },
      { subject: { commonName: 'x'.repeat(65), organizations: [] } },
      { subject: { commonName: 'alice\nCN=root', organizations: [] } },
      { subject: { commonName: 'alice', organizations: ['sre', 'sre'] } },
      { scope: { cluster: 'prod', namespace: '' } },
    ];
    for (const overrides of cases) {
      expectCode(await caughtAsync(() => issueClientCertificate(params('ed25519', 'ed25519', overrides))), ErrorCodes.REQUEST_INVALID);
    }
  });

  it('a ParsedCsr whose key is not one parseCsr accepts is refused', async () => {
    const forged: ParsedCsr = { ...csr('ed25519'), spki: Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x00]) };
    expectCode(await caughtAsync(() => issueClientCertificate({ ...params('ed25519', 'ed25519'), csr: forged })), ErrorCodes.CSR_INVALID);
  });
});
