import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, JitcaError, type ErrorCode } from '../errors.ts';
import { requestJson, type JsonResponse } from './http-json.ts';

export interface SshCertificateAsk {
  publicKey: string;
  role?: string;
  principals?: string[];
  ttl?: string;
  scope?: Record<string, string>;
  commands?: string[];
  reason: string;
}

export interface ReceivedCertificate {
  requestId: string;
  certificate: string;
  serial: string;
  validBefore: Date;
}

export interface Progress {
  (line: string): void;
}

/**
 * Asks the jitca API for a certificate; when the role needs approval, waits (polling, with a
 * progress line) until it is approved, denied or expires.
 */
export async function requestSshCertificate(
  server: string,
  token: string,
  ask: SshCertificateAsk,
  options: { ca?: Buffer; progress?: Progress; pollIntervalMs?: number; maxWaitMs?: number } = {},
): Promise<ReceivedCertificate> {
  const headers = { authorization: `Bearer ${token}` };
  const created = await requestJson(`${server}/v1/ssh/certificates`, { body: ask, headers, ca: options.ca });
  if (created.status === 201) return received(created);
  if (created.status !== 202) throw refused(created);
  const requestId = String(created.body['requestId']);
  const deadline = Date.now() + (options.maxWaitMs ?? 15 * 60_000);
  options.progress?.(`request ${requestId} needs approval (${describeApprovers(created.body)}); waiting…`);
  while (Date.now() < deadline) {
    await sleep(options.pollIntervalMs ?? 2000);
    const polled = await requestJson(`${server}/v1/requests/${requestId}/certificate`, { headers, ca: options.ca });
    if (polled.status === 200) return received(polled);
    if (polled.status !== 202) throw refused(polled);
    const approvals = Array.isArray(polled.body['approvals']) ? polled.body['approvals'].length : 0;
    options.progress?.(`request ${requestId}: ${approvals} approval(s) so far; expires ${String(polled.body['expiresAt'] ?? '')}`);
  }
  throw new JitcaError(ErrorCodes.REQUEST_NOT_PENDING, `gave up waiting for approval of ${requestId}`);
}

function received(response: JsonResponse): ReceivedCertificate {
  return {
    requestId: String(response.body['requestId']),
    certificate: String(response.body['certificate']),
    serial: String(response.body['serial']),
    validBefore: new Date(String(response.body['validBefore'])),
  };
}

/** The server's stable code survives to the engineer's terminal (and the exit status). */
function refused(response: JsonResponse): JitcaError {
  const code = typeof response.body['code'] === 'string' ? (response.body['code'] as ErrorCode) : ErrorCodes.SERVER_REFUSED;
  const message = typeof response.body['message'] === 'string' ? response.body['message'] : `HTTP ${response.status}`;
  const details = typeof response.body['details'] === 'object' && response.body['details'] !== null ? (response.body['details'] as Record<string, unknown>) : undefined;
  return new JitcaError(code, message, { details, retryable: response.status === 503 });
}

function describeApprovers(body: Record<string, unknown>): string {
  const groups = Array.isArray(body['approverGroups']) ? body['approverGroups'].join(', ') : 'an approver';
  return `${String(body['required'] ?? 1)} approval(s) from ${groups}`;
}
