import { ErrorCodes, JitcaError, type ErrorCode } from '../errors.ts';
import { requestJson, type JsonResponse } from './http-json.ts';
import { terminalSafe } from './terminal-text.ts';

export interface X509CertificateAsk {
  /** PKCS#10 PEM; only its key is used, the CA sets the subject from the authenticated identity. */
  csr: string;
  ttl?: string;
  cluster?: string;
}

export interface IssuedX509Certificate {
  certificatePem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * POST {server}/v1/x509/certificates: 201 {certificate, serial, notBefore, notAfter}, or an error
 * body {code, message, details} whose code reaches the engineer unchanged.
 * Errors: the server's code; ERR_SERVER_REFUSED for a refusal without one, or a 201 that is not a
 * certificate reply; ERR_SERVER_UNREACHABLE from the transport.
 */
export async function requestX509Certificate(
  server: string,
  token: string,
  ask: X509CertificateAsk,
  options: { ca?: Buffer; timeoutMs?: number } = {},
): Promise<IssuedX509Certificate> {
  const response = await requestJson(`${server}/v1/x509/certificates`, {
    body: ask,
    headers: { authorization: `Bearer ${token}` },
    ca: options.ca,
    timeoutMs: options.timeoutMs,
  });
  if (response.status !== 201) throw refused(response);
  const { certificate, serial, notBefore, notAfter } = response.body;
  const from = typeof notBefore === 'string' ? new Date(notBefore) : undefined;
  const until = typeof notAfter === 'string' ? new Date(notAfter) : undefined;
  if (typeof certificate !== 'string' || typeof serial !== 'string' || from === undefined || until === undefined || Number.isNaN(from.getTime() + until.getTime())) {
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${server} answered 201 without a certificate, serial, notBefore and notAfter`);
  }
  return { certificatePem: certificate, serial, notBefore: from, notAfter: until };
}

/** The server's stable code survives to kubectl's stderr (and the plugin's exit status). */
function refused(response: JsonResponse): JitcaError {
  // Code and message reach the engineer's terminal: a code must look like one, the message is escaped.
  const code = typeof response.body['code'] === 'string' && /^ERR_[A-Z0-9_]{1,60}$/.test(response.body['code']) ? (response.body['code'] as ErrorCode) : ErrorCodes.SERVER_REFUSED;
  const message =
    response.status === 202
      ? 'this role needs approval before a Kubernetes certificate is issued; ask an approver, then run kubectl again'
      : typeof response.body['message'] === 'string'
        ? terminalSafe(response.body['message'])
        : `HTTP ${response.status}`;
  const details = typeof response.body['details'] === 'object' && response.body['details'] !== null ? (response.body['details'] as Record<string, unknown>) : undefined;
  return new JitcaError(response.status === 202 ? ErrorCodes.SERVER_REFUSED : code, message, { details, retryable: response.status === 503 });
}
