import type { Signer } from '../keys/signer.ts';
import { caCertificateExtensions } from './certificate-extensions.ts';
import { encodeSubjectName } from './distinguished-name.ts';
import { keyIdentifierOf } from './key-identifier.ts';
import { signCertificate, type SignedCertificate } from './sign-certificate.ts';

export interface CreateCaCertificateParams {
  /** The CA key in the HSM; the certificate is self-signed with it. */
  signer: Signer;
  /** Subject and issuer CN, e.g. "jitca kubernetes client CA 1". */
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  serial: bigint;
}

/**
 * The self-signed certificate of the Kubernetes client CA (what kube-apiserver's
 * --client-ca-file holds): subject = issuer = CN only, extensions from caCertificateExtensions
 * (CA:TRUE pathLen 0, keyCertSign + cRLSign, subjectKeyIdentifier). Errors as signCertificate.
 */
export async function createCaCertificate(params: CreateCaCertificateParams): Promise<SignedCertificate> {
  const name = encodeSubjectName({ commonName: params.commonName, organizations: [] });
  return signCertificate(
    {
      serial: params.serial,
      issuer: name,
      subject: name,
      notBefore: params.notBefore,
      notAfter: params.notAfter,
      spki: params.signer.spki,
      extensions: caCertificateExtensions(keyIdentifierOf(params.signer.spki)),
    },
    params.signer,
  );
}
