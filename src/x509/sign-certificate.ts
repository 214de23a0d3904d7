import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Extensions, Name, SubjectPublicKeyInfo, TBSCertificate, Validity, Version, type Extension } from '@peculiar/asn1-x509';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Signer } from '../../hsm/signer.ts';
import { caSignatureAlgorithm, signWithCa } from './ca-signature.ts';
import { decodeDer, type DerElement } from './der-reader.ts';
import { positiveIntegerContent } from './der-writer.ts';
import { encodePem } from './pem.ts';

export interface CertificateContent {
  serial: bigint;
  /** Issuer Name DER: the CA certificate's subject, byte for byte (RFC 5280 §4.1.2.4, §7.1). */
  issuer: Uint8Array;
  /** Subject Name DER. */
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER of the certified key. */
  spki: Uint8Array;
  extensions: Extension[];
}

export interface SignedCertificate {
  pem: string;
  der: Uint8Array;
}

/** RFC 5280 §4.1.2.2: serial numbers are positive and at most 20 octets. */
const MAX_SERIAL_OCTETS = 20;
/** UTCTime starts at 1950 (RFC 5280 §4.1.2.5.1); GeneralizedTime is four-digit years. */
const EARLIEST = Date.UTC(1950, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59);

/**
 * Builds a v3 TBSCertificate (@peculiar/asn1-x509 schema objects, serialized with AsnConvert),
 * signs its DER with the CA Signer and assembles the certificate. Before returning it checks the
 * result as a relying party would: the signed bytes are the certificate's TBSCertificate, the
 * issuer, subject and key are exactly the given bytes, and OpenSSL (node:crypto X509Certificate)
 * verifies the signature with the CA's public key. A failed check is ERR_HSM_FAILURE: a token that
 * returns a wrong signature must not put a broken certificate into the world.
 *
 * Times are whole seconds (fractions are dropped); UTCTime through 2049, GeneralizedTime from 2050
 * (RFC 5280 §4.1.2.5).
 */
export async function signCertificate(content: CertificateContent, signer: Signer): Promise<SignedCertificate> {
  checkSerial(content.serial);
  checkValidity(content.notBefore, content.notAfter);
  const signatureAlgorithm = caSignatureAlgorithm(signer.algorithm);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(positiveIntegerContent(content.serial)),
    signature: signatureAlgorithm,
    issuer: AsnConvert.parse(content.issuer, Name),
    validity: new Validity({ notBefore: content.notBefore, notAfter: content.notAfter }),
    subject: AsnConvert.parse(content.subject, Name),
    subjectPublicKeyInfo: AsnConvert.parse(content.spki, SubjectPublicKeyInfo),
    extensions: new Extensions(content.extensions),
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  checkTbsFields(tbsDer, content);
  const signatureValue = await signWithCa(signer, tbsDer);
  const der = new Uint8Array(
    AsnConvert.serialize(new Certificate({ tbsCertificate: tbs, signatureAlgorithm, signatureValue: toArrayBuffer(signatureValue) })),
  );
  checkSignedCertificate(der, tbsDer, signer);
  return { der, pem: encodePem('CERTIFICATE', der) };
}

function checkSerial(serial: bigint): void {
  const octets = typeof serial === 'bigint' && serial > 0n ? positiveIntegerContent(serial).length : 0;
  if (octets === 0 || octets > MAX_SERIAL_OCTETS) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `certificate serial must be a positive integer of at most ${MAX_SERIAL_OCTETS} octets (RFC 5280 §4.1.2.2)`);
  }
}

function checkValidity(notBefore: Date, notAfter: Date): void {
  const from = notBefore instanceof Date ? notBefore.getTime() : Number.NaN;
  const to = notAfter instanceof Date ? notAfter.getTime() : Number.NaN;
  if (!(from >= EARLIEST && to <= LATEST && Math.floor(from / 1000) < Math.floor(to / 1000))) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'certificate validity must be notBefore < notAfter, whole seconds apart, between 1950 and 9999', {
      details: { notBefore: String(notBefore), notAfter: String(notAfter) },
    });
  }
}

/** The schema round trip must keep the issuer, subject and key bytes exactly. */
function checkTbsFields(tbsDer: Uint8Array, content: CertificateContent): void {
  // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, spki, [3] extensions.
  const fields = decodeDer(tbsDer).children;
  const same = (index: number, bytes: Uint8Array): boolean => Buffer.from((fields[index] as DerElement | undefined)?.encoded ?? []).equals(bytes);
  if (!same(3, content.issuer) || !same(5, content.subject) || !same(6, content.spki)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'issuer, subject or public key is not in canonical DER; it would not be certified as given');
  }
}

function checkSignedCertificate(der: Uint8Array, tbsDer: Uint8Array, signer: Signer): void {
  let ok = false;
  try {
    const signedPart = decodeDer(der).children[0]?.encoded;
    ok = signedPart !== undefined && Buffer.from(signedPart).equals(tbsDer) && new X509Certificate(der).verify(signer.publicKey);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new JitcaError(ErrorCodes.HSM_FAILURE, `certificate signed by ${signer.keyId} does not verify with its public key; nothing was issued`, {
      retryable: true,
      details: { keyId: signer.keyId },
    });
  }
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}
