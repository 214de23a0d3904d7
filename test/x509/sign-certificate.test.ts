import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { decodeDer } from '../../src/x509/der-reader.ts';
import { derNamedBits, derTime } from '../../src/x509/der-writer.ts';
import { encodeSubjectName } from '../../src/x509/distinguished-name.ts';
import { signCertificate, type CertificateContent } from '../../src/x509/sign-certificate.ts';
import { codeOfAsync } from '../support/error-codes.ts';
import { createMemorySigner } from '../support/memory-signer.ts';

const signer = createMemorySigner({ kind: 'ed25519' });
const name = encodeSubjectName({ commonName: 'alice', organizations: ['sre'] });

function content(overrides: Partial<CertificateContent> = {}): CertificateContent {
  return {
    serial: 0x1234_5678_9abc_def0n,
    issuer: name,
    subject: name,
    notBefore: new Date(Date.UTC(2026, 10, 23, 8, 0, 0)),
    notAfter: new Date(Date.UTC(2026, 10, 23, 8, 30, 0)),
    spki: signer.spki,
    extensions: [],
    ...overrides,
  };
}

/** The same value in BER: the outer SEQUENCE's length in long form, which DER forbids under 128. */
function longFormLength(der: Uint8Array): Uint8Array {
  return Uint8Array.from([der[0] ?? 0, 0x81, ...der.subarray(1)]);
}

describe('signCertificate', () => {
  it('writes issuer, subject and key verbatim, and OpenSSL reads and verifies the result', async () => {
    const { der } = await signCertificate(content(), signer);
    const certificate = new X509Certificate(der);
    expect(certificate.verify(signer.publicKey)).toBe(true);
    expect(certificate.subject).toBe('O=sre\nCN=alice');
    expect(certificate.serialNumber).toBe('123456789ABCDEF0');
    const tbs = decodeDer(der).children[0];
    expect(Buffer.from(tbs?.children[5]?.encoded ?? []).equals(name)).toBe(true);
    expect(Buffer.from(tbs?.children[6]?.encoded ?? []).equals(signer.spki)).toBe(true);
  });

  it('refuses a subject, issuer or key that is not one strict-DER SEQUENCE, and signs nothing', async () => {
    let signatures = 0;
    const counting = { ...signer, sign: async (data: Uint8Array) => ((signatures += 1), signer.sign(data)) };
    expect(await codeOfAsync(signCertificate(content({ subject: longFormLength(name) }), counting))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(await codeOfAsync(signCertificate(content({ issuer: Uint8Array.from([...name, 0x00]) }), counting))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(await codeOfAsync(signCertificate(content({ spki: Uint8Array.of(0x04, 0x00) }), counting))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(signatures).toBe(0);
  });
});

describe('DER writer details that certificates depend on', () => {
  it('named bits drop trailing zero bits (X.690 §11.2.2)', () => {
    expect(Buffer.from(derNamedBits([0])).toString('hex')).toBe('03020780'); // digitalSignature
    expect(Buffer.from(derNamedBits([0, 2])).toString('hex')).toBe('030205a0'); // + keyEncipherment
    expect(Buffer.from(derNamedBits([5, 6])).toString('hex')).toBe('03020106'); // keyCertSign + cRLSign
    expect(Buffer.from(derNamedBits([8])).toString('hex')).toBe('0303070080'); // decipherOnly, second byte
  });

  it('times are UTCTime through 2049 and GeneralizedTime from 2050, whole seconds', () => {
    expect(Buffer.from(derTime(new Date(Date.UTC(2049, 11, 31, 23, 59, 59, 999)))).toString('latin1').slice(2)).toBe('491231235959Z');
    expect(Buffer.from(derTime(new Date(Date.UTC(2050, 0, 1)))).toString('latin1').slice(2)).toBe('20500101000000Z');
    expect(derTime(new Date(Date.UTC(2049, 0, 1)))[0]).toBe(0x17);
    expect(derTime(new Date(Date.UTC(2050, 0, 1)))[0]).toBe(0x18);
  });
});
