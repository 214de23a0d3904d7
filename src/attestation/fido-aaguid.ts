import { ErrorCodes, JitcaError } from '../errors.ts';
import { DerError, UniversalTag, decodeDer, expectUniversal } from '../x509/der-reader.ts';
import type { AttestationCertificate } from './attestation-certificate.ts';

/**
 * id-fido-gen-ce-aaguid (WebAuthn §8.2.1, "packed" attestation certificate requirements): the
 * AAGUID, the authenticator model, the attestation certificate was issued for. Yubico's FIDO
 * attestation certificates carry it; older U2F-only ones do not.
 */
export const OID_FIDO_GEN_CE_AAGUID = '1.3.6.1.4.1.45724.1.1.4';

/** The certificate's AAGUID (16 bytes), or undefined when it names none. */
export function certificateAaguid(certificate: AttestationCertificate): Uint8Array | undefined {
  const value = certificate.fields.extensions.get(OID_FIDO_GEN_CE_AAGUID)?.value;
  if (value === undefined) return undefined;
  try {
    // The extension's value is an OCTET STRING of the 16 bytes.
    const aaguid = expectUniversal(decodeDer(value), UniversalTag.octetString, 'AAGUID').content;
    if (aaguid.length === 16) return aaguid.slice();
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
  }
  throw new JitcaError(ErrorCodes.ATTESTATION_MALFORMED, `the FIDO attestation certificate's AAGUID extension (${OID_FIDO_GEN_CE_AAGUID}) is not an OCTET STRING of 16 bytes`);
}

/** The usual 8-4-4-4-12 form, e.g. 2fc0579f-8113-47ea-b116-bb5a8db9202a. */
export function formatAaguid(aaguid: Uint8Array): string {
  const hex = Buffer.from(aaguid).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
