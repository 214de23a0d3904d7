/**
 * Real `openssl` for the CSR tests: requests made the way the seeds make them
 * (`openssl genpkey ...; openssl req -new -key ... -subj "/CN=user/O=oncall-payments"`) and
 * `openssl verify -purpose sslclient` over what the controller issued.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type OpensslKeyType = 'ed25519' | 'p256' | 'rsa2048' | 'rsa1024';

const GENPKEY_ARGS: Readonly<Record<OpensslKeyType, string[]>> = {
  ed25519: ['-algorithm', 'Ed25519'],
  p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
};

let counter = 0;

export interface OpensslCsr {
  pem: string;
  keyPath: string;
}

/** genpkey + req -new, e.g. subject "/CN=alice/O=oncall-payments". */
export function opensslCsr(dir: string, keyType: OpensslKeyType, subject: string, extensions: string[] = []): OpensslCsr {
  counter += 1;
  const keyPath = path.join(dir, `csr-${counter}.key`);
  const csrPath = path.join(dir, `csr-${counter}.csr`);
  execFileSync('openssl', ['genpkey', ...GENPKEY_ARGS[keyType], '-out', keyPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  execFileSync('openssl', ['req', '-new', '-key', keyPath, '-out', csrPath, '-subj', subject, ...extensions.flatMap((e) => ['-addext', e])], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return { pem: readFileSync(csrPath, 'utf8'), keyPath };
}

/** The same request with one bit of its signature flipped: well-formed, but it no longer verifies. */
export function withBrokenSignature(pem: string): string {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE REQUEST-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(body, 'base64');
  const last = der.length - 1;
  der[last] = (der[last] ?? 0) ^ 0x01;
  const lines = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines}-----END CERTIFICATE REQUEST-----\n`;
}

export interface VerifyResult {
  ok: boolean;
  output: string;
}

/** `openssl verify -purpose sslclient -CAfile ca.pem cert.pem`. */
export function opensslVerifyClient(dir: string, caPem: string, certificatePem: string): VerifyResult {
  counter += 1;
  const caPath = path.join(dir, `ca-${counter}.pem`);
  const certPath = path.join(dir, `cert-${counter}.pem`);
  writeFileSync(caPath, caPem);
  writeFileSync(certPath, certificatePem);
  const result = spawnSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', caPath, certPath], { encoding: 'utf8' });
  return { ok: result.status === 0 && result.stdout.includes(': OK'), output: `${result.stdout}${result.stderr}` };
}

/** `openssl x509 -noout -subject -enddate -ext extendedKeyUsage` text of a certificate. */
export function opensslDescribe(dir: string, certificatePem: string): string {
  counter += 1;
  const certPath = path.join(dir, `describe-${counter}.pem`);
  writeFileSync(certPath, certificatePem);
  return execFileSync('openssl', ['x509', '-in', certPath, '-noout', '-subject', '-issuer', '-dates', '-ext', 'extendedKeyUsage,keyUsage'], {
    encoding: 'utf8',
  });
}
