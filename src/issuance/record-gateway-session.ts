import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseCertificate } from '../ssh/certificate.ts';
import type { AuditRecord, Store } from '../store/types.ts';
import { issuedSshCertificateRow } from './issue-gateway-kube-credential.ts';

export interface GatewaySessionEvent {
  /** The certificate the session runs under, as sshd verified it. */
  sshCertificate: string;
  event: 'started' | 'ended';
  /** The command the session ran (decided argv, as text), or "menu". */
  command: string;
  /** Present on "ended". */
  end?: { reason: 'exited' | 'expired' | 'revoked'; exitCode?: number; durationMs: number };
  recording?: { sha256: string; bytes: number; truncated: boolean };
}

/**
 * Audits a gateway session's start or end as gateway.session.started / ended, attributed to the
 * person the SSH certificate was issued to, with the serial, scope, command and the recording's
 * hash. Only a certificate this CA issued, byte for byte, is recorded: the gateway cannot write an
 * audit record about anyone else. A revoked or expired one still is (a cut session ends that way).
 */
export async function recordGatewaySession(store: Store, service: { service: string }, input: GatewaySessionEvent): Promise<AuditRecord> {
  const presented = parseCertificate(input.sshCertificate);
  const row = await issuedSshCertificateRow(store, presented);
  if (row === undefined) {
    throw new JitcaError(ErrorCodes.POLICY_DENIED, 'the SSH certificate is not one this CA issued', { details: { rule: 'ssh-cert.unknown' } });
  }
  return store.appendAudit({
    type: input.event === 'started' ? 'gateway.session.started' : 'gateway.session.ended',
    actor: service.service,
    subject: row.identity,
    requestId: row.requestId,
    data: {
      via: 'gateway',
      sshSerial: row.serial,
      scope: row.scope,
      command: input.command,
      ...(input.end === undefined ? {} : { end: input.end }),
      ...(input.recording === undefined ? {} : { recording: input.recording }),
    },
  });
}
