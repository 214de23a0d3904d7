import { ErrorCodes, JitcaError } from '../errors.ts';
import type { ApiSession } from './approver-requests.ts';
import { requestJson } from './http-json.ts';
import { serverRefusal } from './server-refusal.ts';
import type { CertificateSummary } from './session-status.ts';

/** The server's serial pattern (api/revocation-routes.ts): checked here so it never shapes a URL otherwise. */
const SERIAL = /^[1-9][0-9]{0,19}$/;

/**
 * `ssh-cert revoke` without --serial: the still-valid certificate jitca wrote that expires last
 * (the one ssh would be offering). Errors: ERR_REQUEST_INVALID when there is none.
 */
export function currentCertificateSerial(onDisk: readonly CertificateSummary[], now = Date.now()): string {
  const valid = onDisk.filter((summary) => summary.validBefore.getTime() > now).sort((a, b) => b.validBefore.getTime() - a.validBefore.getTime());
  if (valid[0] === undefined) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'no current jitca certificate on disk to revoke: name one with --serial');
  }
  return String(valid[0].serial);
}

/** POST /v1/ssh/certificates/{serial}/revoke with the engineer's own token (the server decides who may). */
export async function revokeOwnCertificate(session: ApiSession, serial: string, reason: string): Promise<void> {
  if (!SERIAL.test(serial)) throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--serial ${JSON.stringify(serial)} is not a certificate serial (a positive decimal number)`);
  const response = await requestJson(`${session.server}/v1/ssh/certificates/${serial}/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${session.token}` },
    body: { reason },
    ca: session.ca,
  });
  if (response.status !== 200) throw serverRefusal(response);
}
