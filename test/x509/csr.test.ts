import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { MAX_CSR_INPUT_BYTES, parseCsr } from '../../src/x509/csr.ts';
import { ed25519CsrPem, IDENTITY_KEY, WEAK_ED25519_KEYS } from '../support/weak-ed25519.ts';
import { OpensslWorkspace, caught, derToPem, expectCode, openssl, opensslOk, pemToDer, type TestKeyKind } from './openssl.ts';

let work: OpensslWorkspace;
const keys = new Map<TestKeyKind, string>();
const csrs = new Map<TestKeyKind, string>();

beforeAll(() => {
  work = new OpensslWorkspace();
  for (const kind of ['ed25519', 'p256', 'p384', 'rsa2048'] as const) {
    const key = work.key(kind);
    keys.set(kind, key);
    csrs.set(kind, work.csr(key, '/CN=alice/O=oncall-payments'));
  }
});

afterAll(() => work?.cleanup());

function csrOf(kind: TestKeyKind): string {
  const csr = csrs.get(kind);
  if (csr === undefined) throw new Error(`no CSR for ${kind}`);
  return csr;
}

/** Flips one bit in the last byte: inside the signature (Ed25519 S, or ECDSA/RSA's last octet). */
function withCorruptSignature(pem: string): Uint8Array {
  const der = pemToDer(pem);
  der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
  return der;
}

describe('CSRs made by openssl req', () => {
  const cases: Array<[TestKeyKind, object, string]> = [
    ['ed25519', { kind: 'ed25519' }, 'Ed25519'],
    ['p256', { kind: 'ecdsa', curve: 'P-256' }, 'ecdsa-with-SHA256'],
    ['p384', { kind: 'ecdsa', curve: 'P-384' }, 'ecdsa-with-SHA256'],
    ['rsa2048', { kind: 'rsa', bits: 2048 }, 'sha256WithRSAEncryption'],
  ];

  it.each(cases)('%s: subject, key and verified signature are read', (kind, keyAlgorithm, signatureAlgorithm) => {
    const csr = parseCsr(csrOf(kind));
    expect(csr.subject).toEqual({ commonName: 'alice', organizations: ['oncall-payments'], other: [] });
    expect(csr.keyAlgorithm).toEqual(keyAlgorithm);
    expect(csr.signatureAlgorithm).toBe(signatureAlgorithm);
    // The key is the one openssl holds: its SPKI as `openssl pkey -pubout` writes it.
    const spki = pemToDer(opensslOk(['pkey', '-in', keys.get(kind) ?? '', '-pubout']));
    expect(Buffer.from(csr.spki)).toEqual(Buffer.from(spki));
    expect(Buffer.from(csr.publicKey.export({ format: 'der', type: 'spki' }))).toEqual(Buffer.from(spki));
    expect(csr.requestedExtensions).toEqual({ all: [] });
    expect(Buffer.from(csr.der)).toEqual(Buffer.from(pemToDer(csrOf(kind))));
  });

  it('accepts DER bytes, PEM bytes (a Kubernetes CSR spec.request) and the NEW CERTIFICATE REQUEST label', () => {
    const pem = csrOf('ed25519');
    const expected = parseCsr(pem);
    expect(parseCsr(pemToDer(pem)).subject).toEqual(expected.subject);
    expect(parseCsr(new TextEncoder().encode(pem)).subject).toEqual(expected.subject);
    expect(parseCsr(pem.replaceAll('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST')).subject).toEqual(expected.subject);
    expect(parseCsr(`\n\n  ${pem.replaceAll('\n', '\r\n')}  \n`).subject).toEqual(expected.subject);
  });

  it('lists other subject attributes and several organizations in order', () => {
    const pem = work.csr(keys.get('p256') ?? '', '/C=DE/O=oncall-payments/O=sre/OU=platform/CN=alice/emailAddress=alice@example.com');
    expect(parseCsr(pem).subject).toEqual({
      commonName: 'alice',
      organizations: ['oncall-payments', 'sre'],
      other: [
        { type: '2.5.4.6', name: 'C', value: 'DE' },
        { type: '2.5.4.11', name: 'OU', value: 'platform' },
        { type: '1.2.840.113549.1.9.1', name: 'emailAddress', value: 'alice@example.com' },
      ],
    });
  });

  it('reports requested extensions for information (CA:TRUE, SANs, serverAuth, key usages)', () => {
    const pem = work.csr(keys.get('ed25519') ?? '', '/CN=alice/O=oncall-payments', [
      'basicConstraints=critical,CA:TRUE,pathlen:3',
      'subjectAltName=DNS:kubernetes.default,IP:10.0.0.1,email:a@example.com,URI:spiffe://x/y',
      'extendedKeyUsage=serverAuth,clientAuth',
      'keyUsage=critical,digitalSignature,keyCertSign',
    ]);
    const csr = parseCsr(pem);
    expect(csr.requestedExtensions).toEqual({
      basicConstraints: { ca: true, pathLength: 3 },
      subjectAltNames: [
        { type: 'dns', value: 'kubernetes.default' },
        { type: 'ip', value: '10.0.0.1' },
        { type: 'email', value: 'a@example.com' },
        { type: 'uri', value: 'spiffe://x/y' },
      ],
      extendedKeyUsage: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
      keyUsage: ['digitalSignature', 'keyCertSign'],
      all: [
        { oid: '2.5.29.19', critical: true },
        { oid: '2.5.29.17', critical: false },
        { oid: '2.5.29.37', critical: false },
        { oid: '2.5.29.15', critical: true },
      ],
    });
  });
});

describe('CSRs refused, each with its code', () => {
  it.each(['ed25519', 'p256', 'rsa2048'] as const)('%s: a corrupted signature is ERR_CSR_SIGNATURE, although `openssl req -verify` exits 0', (kind) => {
    const bad = withCorruptSignature(csrOf(kind));
    expectCode(caught(() => parseCsr(bad)), ErrorCodes.CSR_SIGNATURE);
    expectCode(caught(() => parseCsr(derToPem('CERTIFICATE REQUEST', bad))), ErrorCodes.CSR_SIGNATURE);
    // Why jitca verifies in process (SECURITY-NOTES.md "CSRs"): OpenSSL 3.0 reports the failure
    // only in its output and still exits 0.
    const file = work.write(`corrupt-${kind}.der`, bad);
    const verdict = openssl(['req', '-inform', 'DER', '-in', file, '-verify', '-noout']);
    expect(verdict.status).toBe(0);
    expect(verdict.stdout + verdict.stderr).toMatch(/verify failure/);
    // The intact request does verify, with the same tool and code: the bit flip is the difference.
    expect(parseCsr(csrOf(kind)).signatureAlgorithm).toBeTruthy();
  });

  it('an Ed25519 key nobody holds (small-order, y >= p, x = 0 signed) is ERR_KEY_INVALID_POINT, before the signature is looked at', () => {
    for (const { name, key } of WEAK_ED25519_KEYS) {
      const error = caught(() => parseCsr(ed25519CsrPem(key, 'alice', 'oncall-payments')));
      expectCode(error, ErrorCodes.KEY_INVALID_POINT);
      expect(error.message, name).toMatch(/small order|non-canonical|does not decode/);
    }
    // The same request with a real key gets as far as its signature: only the key was refused.
    const real = parseCsr(csrOf('ed25519')).spki.subarray(-32); // RFC 8410: the key is the SPKI's last 32 bytes
    expectCode(caught(() => parseCsr(ed25519CsrPem(real, 'alice', 'oncall-payments'))), ErrorCodes.CSR_SIGNATURE);
    // An openssl-made request with its key swapped for the identity.
    const swapped = pemToDer(csrOf('ed25519'));
    swapped.set(IDENTITY_KEY, Buffer.from(swapped).indexOf(Buffer.from(real)));
    expectCode(caught(() => parseCsr(swapped)), ErrorCodes.KEY_INVALID_POINT);
  });

  it('RSA-1024 is ERR_KEY_TOO_SMALL', () => {
    const pem = work.csr(work.key('rsa1024'), '/CN=alice/O=oncall-payments');
    const error = caught(() => parseCsr(pem));
    expectCode(error, ErrorCodes.KEY_TOO_SMALL);
    expect(error.details).toMatchObject({ bits: 1024, minimum: 2048 });
  });

  it.each(['dsa', 'secp256k1'] as const)('a %s key is ERR_KEY_UNSUPPORTED', (kind) => {
    const pem = work.csr(work.key(kind), '/CN=alice/O=oncall-payments');
    expectCode(caught(() => parseCsr(pem)), ErrorCodes.KEY_UNSUPPORTED);
  });

  it('bytes after the DER request are ERR_CSR_INVALID, in DER and inside PEM', () => {
    const der = pemToDer(csrOf('ed25519'));
    const padded = Uint8Array.from([...der, 0x00]);
    expectCode(caught(() => parseCsr(padded)), ErrorCodes.CSR_INVALID);
    expectCode(caught(() => parseCsr(derToPem('CERTIFICATE REQUEST', Uint8Array.from([...der, 0x05, 0x00])))), ErrorCodes.CSR_INVALID);
  });

  it('text around or after the PEM block, a second block, or bad base64 is ERR_CSR_INVALID', () => {
    const pem = csrOf('ed25519');
    for (const input of [
      `${pem}garbage\n`,
      `Certificate Request:\n${pem}`,
      `${pem}${pem}`,
      pem.replace(/\n[A-Za-z0-9+/]/, '\n*'),
      pem.replace('-----END CERTIFICATE REQUEST-----', '-----END CERTIFICATE-----'),
    ]) {
      expectCode(caught(() => parseCsr(input)), ErrorCodes.CSR_INVALID);
    }
  });

  it('input that is not PEM or DER at all is ERR_CSR_INVALID', () => {
    for (const input of ['', 'hello', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx', new Uint8Array(0), Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x00])]) {
      expectCode(caught(() => parseCsr(input)), ErrorCodes.CSR_INVALID);
    }
    expectCode(caught(() => parseCsr(42 as unknown as string)), ErrorCodes.CSR_INVALID);
  });

  it('a certificate instead of a request is ERR_CSR_INVALID, as PEM and as DER', () => {
    const cert = opensslOk(['req', '-x509', '-key', keys.get('ed25519') ?? '', '-subj', '/CN=alice', '-days', '1']);
    expectCode(caught(() => parseCsr(cert)), ErrorCodes.CSR_INVALID);
    const relabelled = cert.replaceAll('CERTIFICATE', 'CERTIFICATE REQUEST');
    expectCode(caught(() => parseCsr(relabelled)), ErrorCodes.CSR_INVALID);
    expectCode(caught(() => parseCsr(pemToDer(cert))), ErrorCodes.CSR_INVALID);
  });

  it(`input over ${MAX_CSR_INPUT_BYTES} bytes is ERR_INPUT_TOO_LARGE, as text and as bytes`, () => {
    const pem = csrOf('ed25519');
    const big = pem + ' '.repeat(MAX_CSR_INPUT_BYTES);
    expectCode(caught(() => parseCsr(big)), ErrorCodes.INPUT_TOO_LARGE);
    expectCode(caught(() => parseCsr(new Uint8Array(MAX_CSR_INPUT_BYTES + 1))), ErrorCodes.INPUT_TOO_LARGE);
    // Exactly at the limit is parsed (and refused here only because it is not a request).
    expectCode(caught(() => parseCsr(new Uint8Array(MAX_CSR_INPUT_BYTES))), ErrorCodes.CSR_INVALID);
  });

  it('BER where DER is required is ERR_CSR_INVALID, even though the signature (over the request info) still verifies', () => {
    const der = pemToDer(csrOf('ed25519'));
    expect(der[0]).toBe(0x30);
    expect(der[1]).toBe(0x81); // one-byte long form: 172-byte request
    const body = der.subarray(3);
    // The same request with its outer length written in two bytes (0x82 0x00 0xNN) and as indefinite.
    const longForm = Uint8Array.from([0x30, 0x82, 0x00, body.length, ...body]);
    const indefinite = Uint8Array.from([0x30, 0x80, ...body, 0x00, 0x00]);
    // Control: rebuilt with the proper one-byte long form, it is the accepted request again.
    expect(parseCsr(Uint8Array.from([0x30, 0x81, body.length, ...body])).subject.commonName).toBe('alice');
    expectCode(caught(() => parseCsr(longForm)), ErrorCodes.CSR_INVALID);
    expectCode(caught(() => parseCsr(indefinite)), ErrorCodes.CSR_INVALID);
  });

  it('two CNs, or a multi-valued RDN, are ERR_CSR_INVALID', () => {
    const key = keys.get('p256') ?? '';
    expectCode(caught(() => parseCsr(work.csr(key, '/CN=alice/CN=system:masters'))), ErrorCodes.CSR_INVALID);
    const out = work.file('multi.csr');
    opensslOk(['req', '-new', '-key', key, '-multivalue-rdn', '-subj', '/CN=alice+O=system:masters/O=oncall-payments', '-out', out]);
    expectCode(caught(() => parseCsr(opensslOk(['req', '-in', out]))), ErrorCodes.CSR_INVALID);
  });

  it('a control character in the subject is ERR_CSR_INVALID', () => {
    const out = work.file('ctrl.csr');
    opensslOk(['req', '-new', '-key', keys.get('ed25519') ?? '', '-utf8', '-subj', '/CN=alice\x1b[31m/O=oncall-payments', '-out', out]);
    expectCode(caught(() => parseCsr(opensslOk(['req', '-in', out]))), ErrorCodes.CSR_INVALID);
  });
});
