import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requestJson } from '../client/http-json.ts';
import { generateKubeKeyAndCsr } from '../client/kube-credential-key.ts';
import { toYaml } from '../client/kubeconfig-yaml.ts';
import { serverRefusal } from '../client/server-refusal.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { ParsedSshCertificate } from '../ssh/certificate-parse.ts';

export interface SessionKubeTarget {
  /** jitca's API base URL. */
  apiUrl: string;
  apiCaPem?: string;
  /** The gateway's own credential for jitca (its client-credentials token). */
  gatewayToken: string;
  /** The Kubernetes API server and the CA that serves it. */
  kubeServer: string;
  kubeCaPem?: string;
}

export interface SessionKubeconfig {
  /** A kubeconfig holding the session's key and certificate, in a directory only this process's user reads. */
  file: string;
  /** The private directory holding it: the session's HOME, so kubectl's caches stay there too. */
  directory: string;
  notAfter: Date;
  remove(): void;
}

/**
 * The session's Kubernetes credential, from the CA's one-approval route: a fresh key that never
 * leaves the session, and the certificate the CA issues for the SSH certificate sshd verified.
 * The CA decides everything (person, scope, groups, lifetime); this only asks and writes the file.
 */
export async function sessionKubeconfig(target: SessionKubeTarget, certificate: ParsedSshCertificate, namespace: string): Promise<SessionKubeconfig> {
  const { privateKeyPem, csrPem } = generateKubeKeyAndCsr();
  const response = await requestJson(new URL('/v1/gateway/kube-credentials', target.apiUrl).toString(), {
    method: 'POST',
    headers: { authorization: `Bearer ${target.gatewayToken}` },
    body: { sshCertificate: certificateLine(certificate), csr: csrPem },
    ...(target.apiCaPem === undefined ? {} : { ca: target.apiCaPem }),
  });
  if (response.status !== 201) throw serverRefusal(response);
  const certificatePem = response.body['certificate'];
  const notAfter = response.body['notAfter'];
  if (typeof certificatePem !== 'string' || typeof notAfter !== 'string') {
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, 'the CA answered without a certificate');
  }
  const directory = mkdtempSync(path.join(tmpdir(), 'jitca-session-'));
  const file = path.join(directory, 'kubeconfig');
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'session', cluster: { server: target.kubeServer, ...(target.kubeCaPem === undefined ? {} : { 'certificate-authority-data': b64(target.kubeCaPem) }) } }],
    users: [{ name: 'session', user: { 'client-certificate-data': b64(certificatePem), 'client-key-data': b64(privateKeyPem) } }],
    contexts: [{ name: 'session', context: { cluster: 'session', user: 'session', namespace } }],
    'current-context': 'session',
  };
  writeFileSync(file, toYaml(kubeconfig), { mode: 0o600 });
  return { file, directory, notAfter: new Date(notAfter), remove: () => rmSync(directory, { recursive: true, force: true }) };
}

/** Audits the session's start or end through the CA (POST /v1/gateway/sessions/events); a refusal throws. */
export async function postSessionEvent(
  target: Pick<SessionKubeTarget, 'apiUrl' | 'apiCaPem' | 'gatewayToken'>,
  certificate: ParsedSshCertificate,
  event: { event: 'started' | 'ended'; command: string; end?: { reason: string; exitCode?: number; durationMs: number }; recording?: { sha256: string; bytes: number; truncated: boolean } },
): Promise<void> {
  const response = await requestJson(new URL('/v1/gateway/sessions/events', target.apiUrl).toString(), {
    method: 'POST',
    headers: { authorization: `Bearer ${target.gatewayToken}` },
    body: { sshCertificate: certificateLine(certificate), ...event },
    ...(target.apiCaPem === undefined ? {} : { ca: target.apiCaPem }),
  });
  if (response.status !== 201) throw serverRefusal(response);
}

function certificateLine(certificate: ParsedSshCertificate): string {
  return `${certificate.type} ${Buffer.from(certificate.blob).toString('base64')}`;
}
