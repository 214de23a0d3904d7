import type { X509Certificate } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Signer } from '../keys/signer.ts';
import { clientCertificateExtensions } from './certificate-extensions.ts';
import type { ParsedCsr } from './csr.ts';
import { DerError, decodeDer } from './der-reader.ts';
import { encodeSubjectName } from './distinguished-name.ts';
import { readIssuingCa } from './issuing-ca.ts';
import { keyIdentifierOf } from './key-identifier.ts';
import type { CertificateScope } from './scope-extension.ts';
import { signCertificate, type SignedCertificate } from './sign-certificate.ts';
import { readSubjectPublicKey } from './subject-public-key.ts';

// The CA's own certificate is made next door; re-exported so issuance has one import site.
export { createCaCertificate, type CreateCaCertificateParams } from './ca-certificate.ts';
export type { SignedCertificate } from './sign-certificate.ts';

export interface IssueClientCertificateParams {
  /** A request parseCsr accepted: only its public key is used. */
  csr: ParsedCsr;
  /** From the approved identity (user, groups), never from the CSR's subject. */
  subject: { commonName: string; organizations: readonly string[] };
  /** Random, at least 64 bits of entropy (CA/Browser Forum BR §7.1), chosen and recorded by the caller. */
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
  scope?: CertificateScope;
  /** Add keyUsage keyEncipherment when the subject key is RSA (TLS 1.2 RSA key exchange). Default false. */
  rsaKeyEncipherment?: boolean;
  ca: { signer: Signer; certificate: X509Certificate | Uint8Array };
}

/**
 * Issues a short-lived X.509 client certificate for kubectl (Kubernetes reads the user from CN
 * and groups from O), signed with the CA key behind `ca.signer`. Extensions are exactly those of
 * clientCertificateExtensions: whatever the CSR requested (SANs, CA:TRUE, serverAuth) is ignored.
 *
 * Errors: ERR_REQUEST_INVALID for a bad subject, serial, scope or validity (including a notAfter
 * beyond the CA certificate's, which no relying party would accept); ERR_CONFIG_INVALID when the
 * CA certificate does not go with the signer; ERR_CSR_INVALID / ERR_KEY_* when csr.spki is not a
 * key parseCsr would accept; ERR_HSM_* from the signer, and ERR_HSM_FAILURE when the signature it
 * returned does not verify.
 */
export async function issueClientCertificate(params: IssueClientCertificateParams): Promise<SignedCertificate> {
  const key = subjectKey(params.csr.spki);
  const ca = readIssuingCa(params.ca.certificate, params.ca.signer);
  if (params.notAfter instanceof Date && params.notAfter.getTime() > ca.notAfter.getTime()) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `certificate notAfter ${params.notAfter.toISOString()} is after the CA certificate's ${ca.notAfter.toISOString()}`, {
      details: { notAfter: params.notAfter.toISOString(), caNotAfter: ca.notAfter.toISOString() },
    });
  }
  const subject = encodeSubjectName(params.subject);
  const extensions = clientCertificateExtensions({
    subjectKeyIdentifier: keyIdentifierOf(key.spki),
    authorityKeyIdentifier: ca.keyIdentifier,
    keyEncipherment: params.rsaKeyEncipherment === true && key.algorithm.kind === 'rsa',
    ...(params.scope === undefined ? {} : { scope: params.scope }),
  });
  return signCertificate(
    { serial: params.serial, issuer: ca.subject, subject, notBefore: params.notBefore, notAfter: params.notAfter, spki: key.spki, extensions },
    params.ca.signer,
  );
}

/** The key is checked again here: a ParsedCsr is plain data and may not come from parseCsr. */
function subjectKey(spki: Uint8Array): ReturnType<typeof readSubjectPublicKey> {
  try {
    return readSubjectPublicKey(decodeDer(spki), ErrorCodes.CSR_INVALID);
  } catch (error) {
    if (error instanceof DerError) throw new JitcaError(ErrorCodes.CSR_INVALID, `CSR public key is not valid: ${error.message}`);
    throw error;
  }
}
