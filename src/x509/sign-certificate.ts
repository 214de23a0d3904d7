import { X509Certificate } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Signer } from '../keys/signer.ts';
import { caSignatureAlgorithm, signWithCa } from './ca-signature.ts';
import { DerError, UniversalTag, decodeDer, expectUniversal } from './der-reader.ts';
import { derBitStringBytes, derContextConstructed, derElement, derSequence, derTime, positiveIntegerContent } from './der-writer.ts';
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
  /** Each one Extension's DER (RFC 5280 §4.1), in the order they go into the certificate. */
  extensions: Uint8Array[];
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

/** Version ::= INTEGER { v3(2) }, as TBSCertificate's [0] EXPLICIT first member (RFC 5280 §4.1). */
const VERSION_V3 = derContextConstructed(0, Uint8Array.of(0x02, 0x01, 0x02));

/**
 * Builds a v3 TBSCertificate in DER (RFC 5280 §4.1), signs it with the CA Signer and assembles the
 * certificate. Issuer, subject and key are written exactly as given, and must each be one strict
 * DER SEQUENCE (ERR_REQUEST_INVALID otherwise). Before returning it checks the result as a relying
 * party would: OpenSSL (node:crypto X509Certificate) parses the certificate and verifies the
 * signature with the CA's public key. A failed check is ERR_HSM_FAILURE: a token that returns a
 * wrong signature must not put a broken certificate into the world.
 *
 * Times are whole seconds (fractions are dropped); UTCTime through 2049, GeneralizedTime from 2050
 * (RFC 5280 §4.1.2.5).
 */
export async function signCertificate(content: CertificateContent, signer: Signer): Promise<SignedCertificate> {
  checkSerial(content.serial);
  checkValidity(content.notBefore, content.notAfter);
  const signatureAlgorithm = caSignatureAlgorithm(signer.algorithm);
  checkSequence(content.issuer, 'issuer');
  checkSequence(content.subject, 'subject');
  checkSequence(content.spki, 'subject public key');
  const tbsDer = derSequence([
    VERSION_V3,
    derElement(0x02, positiveIntegerContent(content.serial)),
    signatureAlgorithm,
    content.issuer,
    derSequence([derTime(content.notBefore), derTime(content.notAfter)]),
    content.subject,
    content.spki,
    derContextConstructed(3, derSequence(content.extensions)),
  ]);
  const signatureValue = await signWithCa(signer, tbsDer);
  const der = derSequence([tbsDer, signatureAlgorithm, derBitStringBytes(signatureValue)]);
  checkSignedCertificate(der, signer);
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

/** Written into the certificate verbatim: anything but one strict-DER SEQUENCE would be certified as something else. */
function checkSequence(bytes: Uint8Array, what: string): void {
  try {
    expectUniversal(decodeDer(bytes), UniversalTag.sequence, what);
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `${what} is not one canonical DER SEQUENCE; it would not be certified as given`);
  }
}

function checkSignedCertificate(der: Uint8Array, signer: Signer): void {
  let ok = false;
  try {
    ok = new X509Certificate(der).verify(signer.publicKey);
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
