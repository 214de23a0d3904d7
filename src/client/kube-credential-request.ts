import { ErrorCodes, JitcaError } from '../errors.ts';
import { requestJson, type JsonResponse } from './http-json.ts';
import { serverRefusal } from './server-refusal.ts';

export interface X509CertificateAsk {
  /** PKCS#10 PEM; only its key is used, the CA sets the subject from the authenticated identity. */
  csr: string;
  ttl?: string;
  cluster?: string;
  /** The operations needed (view-logs, exec, ...); the certificate's groups are theirs. */
  operations?: string[];
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

/** The server's refusal for kubectl's stderr; a 202 (approval needed) is not something kubectl can wait for. */
function refused(response: JsonResponse): JitcaError {
  if (response.status !== 202) return serverRefusal(response);
  return serverRefusal(response, {
    code: ErrorCodes.SERVER_REFUSED,
    message: 'this role needs approval before a Kubernetes certificate is issued; ask an approver, then run kubectl again',
  });
}
