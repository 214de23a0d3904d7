import { ErrorCodes, JitcaError } from '../errors.ts';
import { findReasonProblem } from '../policy/reason.ts';
import type { Identity } from '../policy/types.ts';
import type { Store, StoredCertificate } from '../store/types.ts';

/**
 * Withdraws an issued SSH user certificate before it expires: the revocation and its audit
 * record ("ssh.revoked") are written in one durable transaction; the certificate's serial then
 * appears in the KRL (ssh-krl.ts) that sshd reads through RevokedKeys.
 *
 * Errors: ERR_REQUEST_INVALID for a malformed serial or reason, or an X.509 certificate (the
 * Kubernetes API server reads no revocation lists: those certificates are kept short instead);
 * ERR_CERTIFICATE_NOT_FOUND for a serial jitca never issued; ERR_STORE_CONFLICT when it is already
 * revoked; whatever `authorize` throws, given the certificate's holder, before anything is
 * written (the API asks policy there; the security team's local CLI does not). Nothing is
 * written in any of these cases.
 */
export async function revokeSshCertificate(
  store: Store,
  actor: Identity,
  serial: string,
  reason: string,
  authorize: (holder: string) => void = () => undefined,
): Promise<StoredCertificate> {
  const reasonProblem = findReasonProblem(reason);
  if (reasonProblem !== undefined) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `a revocation needs a reason: ${reasonProblem}`, { details: { field: 'reason' } });
  }
  const certificate = await store.findCertificateBySerial(serial);
  if (certificate === undefined) {
    throw new JitcaError(ErrorCodes.CERTIFICATE_NOT_FOUND, `no certificate with serial ${serial} was issued by this CA`, { details: { serial } });
  }
  if (certificate.kind !== 'ssh-user') {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `certificate ${serial} is a ${certificate.kind} certificate; only SSH user certificates are revoked (through the KRL)`, {
      details: { serial, kind: certificate.kind },
    });
  }
  authorize(certificate.identity);
  await store.recordRevocation({
    serial,
    caKeyId: certificate.caKeyId,
    validBefore: certificate.validBefore,
    revokedBy: actor.subject,
    reason,
    event: {
      type: 'ssh.revoked',
      actor: actor.actingFor ?? actor.subject,
      subject: certificate.identity,
      requestId: certificate.requestId,
      data: { serial, reason, caKeyId: certificate.caKeyId, keyId: certificate.keyId, validBefore: certificate.validBefore },
    },
  });
  return certificate;
}
