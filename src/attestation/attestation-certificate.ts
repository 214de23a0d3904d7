import { X509Certificate } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { readCertificateFields, type CertificateFields } from '../x509/certificate-fields.ts';
import { DerError } from '../x509/der-reader.ts';
import { PemError, decodePem } from '../x509/pem.ts';

/** One certificate of an attestation chain: node's view (signature checks, dates) and the raw fields. */
export interface AttestationCertificate {
  der: Uint8Array;
  x509: X509Certificate;
  fields: CertificateFields;
  /** The subject as one line, e.g. "CN=Yubico PIV Root CA Serial 263751", for messages and facts. */
  name: string;
}

/** Attestation certificates are about 1 KiB; a bundle file holds a handful. */
const MAX_CERTIFICATE_BYTES = 16 * 1024;

/** A certificate as PEM text or DER bytes; anything else is ERR_ATTESTATION_MALFORMED naming `what`. */
export function readAttestationCertificate(input: string | Uint8Array, what: string): AttestationCertificate {
  const der = typeof input === 'string' || looksLikePem(input) ? pemCertificate(textOf(input), what) : input;
  if (der.byteLength > MAX_CERTIFICATE_BYTES) throw malformed(`${what} is larger than ${MAX_CERTIFICATE_BYTES} bytes`);
  let fields: CertificateFields;
  try {
    fields = readCertificateFields(der);
  } catch (error) {
    if (error instanceof DerError) throw malformed(`${what} is not a DER certificate: ${error.message}`);
    throw error;
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    throw malformed(`${what} is not a certificate OpenSSL can read`);
  }
  return { der: der.slice(), x509, fields, name: x509.subject.split('\n').join(', ') };
}

/** Every CERTIFICATE block of a PEM bundle (a roots file may hold several). */
export function readCertificateBundle(text: string, what: string): AttestationCertificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw malformed(`${what} holds no PEM CERTIFICATE block`);
  return blocks.map((block, index) => readAttestationCertificate(block, `${what} certificate ${index + 1}`));
}

function pemCertificate(text: string, what: string): Uint8Array {
  try {
    const block = decodePem(text);
    if (block.label !== 'CERTIFICATE') throw malformed(`${what} is a PEM "${block.label}", expected a CERTIFICATE`);
    return block.der;
  } catch (error) {
    if (error instanceof PemError) throw malformed(`${what} is not one PEM certificate: ${error.message}`);
    throw error;
  }
}

function looksLikePem(bytes: Uint8Array): boolean {
  return bytes.find((byte) => byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) === 0x2d;
}

function textOf(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
}

function malformed(message: string): JitcaError {
  return new JitcaError(ErrorCodes.ATTESTATION_MALFORMED, message);
}
