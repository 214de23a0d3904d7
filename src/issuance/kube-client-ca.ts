import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Signer } from '../../hsm/signer.ts';
import type { Pkcs11Token } from '../../hsm/pkcs11-token.ts';
import { writeFileAtomic } from '../atomic-file.ts';
import { ensurePrivateDirectory, PRIVATE_FILE_MODE } from '../private-files.ts';
import type { Clock } from '../clock.ts';
import type { JitcaConfig } from '../config.ts';
import { createCaCertificate } from '../x509/issue-client-certificate.ts';
import { randomSerial } from './serial.ts';

/** One generation of the Kubernetes client CA: the HSM key and its self-signed certificate. */
export interface KubeClientCa {
  signer: Signer;
  certificate: X509Certificate;
  certificatePem: string;
}

/**
 * The CA certificate of generation N: `<dataDir>/kube-client-ca/N.pem`, private like everything
 * under the data directory (the certificate itself is public: `jitca bundle` and the trust routes
 * hand it out).
 */
export function kubeCaCertificatePath(config: JitcaConfig, generation: number): string {
  return path.join(config.dataDir, config.kubernetes.caName, `${generation}.pem`);
}

/**
 * Writes the self-signed certificate for a CA key that has none yet (first start, or a lost file:
 * the key is the CA, the certificate only describes it, so re-creating it is safe).
 */
export async function ensureKubeCaCertificate(config: JitcaConfig, signer: Signer, generation: number, clock: Clock): Promise<boolean> {
  const file = kubeCaCertificatePath(config, generation);
  // Before the existence check: a directory an earlier version made 0755 is tightened too.
  ensurePrivateDirectory(path.dirname(file));
  if (existsSync(file)) return false;
  const now = clock.now();
  const { pem } = await createCaCertificate({
    signer,
    commonName: `jitca kubernetes client CA ${generation}`,
    // Backdated like leaf certificates: API servers with a slightly slow clock still accept it.
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + config.kubernetes.caValidityDays * 86_400_000),
    serial: randomSerial(),
  });
  writeFileAtomic(file, pem, PRIVATE_FILE_MODE);
  return true;
}

export function loadKubeClientCa(config: JitcaConfig, token: Pkcs11Token, generation: number): KubeClientCa | undefined {
  const signer = token.findSigner(config.kubernetes.caName, generation);
  const file = kubeCaCertificatePath(config, generation);
  if (signer === undefined || !existsSync(file)) return undefined;
  const certificatePem = readFileSync(file, 'utf8');
  return { signer, certificatePem, certificate: new X509Certificate(certificatePem) };
}

/** PEM bundle of every generation, for kube-apiserver --client-ca-file during a rotation's overlap. */
export function kubeCaBundle(config: JitcaConfig, token: Pkcs11Token): string {
  return token
    .listKeys(config.kubernetes.caName)
    .map((key) => key.generation)
    .sort((a, b) => a - b)
    .flatMap((generation) => loadKubeClientCa(config, token, generation)?.certificatePem ?? [])
    .join('');
}
