import { ErrorCodes, JitcaError } from '../errors.ts';
import { DerError, TagClass, decodeDer, expectSequence, type DerElement } from './der-reader.ts';
import { readSubjectName, type SubjectName } from './distinguished-name.ts';

/**
 * The subject of a certificate (DER), read with jitca's own Name reader rather than from
 * X509Certificate.subject, whose text form escapes (or does not) by OpenSSL's print flags: a CN
 * compared as text could match a different name. ERR_CERTIFICATE_INVALID when it cannot be read.
 */
export function readCertificateSubject(certificateDer: Uint8Array): SubjectName {
  try {
    const [tbs] = expectSequence(decodeDer(certificateDer), 'Certificate', 3) as [DerElement];
    const fields = expectSequence(tbs, 'TBSCertificate', 6, 10);
    // [0] version, serialNumber, signature, issuer, validity, subject: the version is optional (v1).
    const versioned = fields[0]?.tagClass === TagClass.context && fields[0].tagNumber === 0;
    return readSubjectName(fields[versioned ? 5 : 4] as DerElement);
  } catch (error) {
    if (error instanceof DerError) throw new JitcaError(ErrorCodes.CERTIFICATE_INVALID, `certificate is not valid: ${error.message}`);
    throw error;
  }
}
