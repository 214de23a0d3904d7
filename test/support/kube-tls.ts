import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
}

/**
 * A throwaway self-signed P-256 serving certificate for 127.0.0.1, made by the real openssl, so
 * the client is configured exactly like against a cluster: server URL plus certificate-authority-data.
 */
export function makeServingCertificate(): ServingCertificate {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jitca-kube-tls-'));
  try {
    const certPath = path.join(dir, 'tls.crt');
    const keyPath = path.join(dir, 'tls.key');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=kube-api-double',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-addext', 'basicConstraints=critical,CA:TRUE',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
