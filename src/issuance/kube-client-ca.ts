import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CaKeyring, KeyringGeneration } from '../../rotation/ca-keyring.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Signer } from '../keys/signer.ts';
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

/** A keyring generation of the Kubernetes client CA with its certificate, undefined without one. */
export function loadKubeClientCa(config: JitcaConfig, generation: Pick<KeyringGeneration, 'generation' | 'signer'>): KubeClientCa | undefined {
  const file = kubeCaCertificatePath(config, generation.generation);
  if (!existsSync(file)) return undefined;
  const certificatePem = readFileSync(file, 'utf8');
  return { signer: generation.signer, certificatePem, certificate: new X509Certificate(certificatePem) };
}

/**
 * The active generation's CA, read once per generation: a process that sees the keyring move on
 * signs with the new generation and its certificate from the next call, without a restart.
 */
export function activeKubeClientCa(config: JitcaConfig, keyring: Pick<CaKeyring, 'active'>): () => KubeClientCa {
  let cached: KubeClientCa | undefined;
  return () => {
    const active = keyring.active('kube-client');
    if (cached?.signer !== active.signer) {
      const loaded = loadKubeClientCa(config, active);
      if (loaded === undefined) {
        throw new JitcaError(ErrorCodes.HSM_KEY_NOT_FOUND, `no certificate for ${active.keyId} at ${kubeCaCertificatePath(config, active.generation)}; run jitca init`, {
          details: { keyId: active.keyId },
        });
      }
      cached = loaded;
    }
    return cached;
  };
}

/** PEM bundle of every trusted generation, for kube-apiserver --client-ca-file during a rotation's overlap. */
export function kubeCaBundle(config: JitcaConfig, keyring: Pick<CaKeyring, 'trusted'>): string {
  return keyring
    .trusted('kube-client')
    .flatMap((generation) => loadKubeClientCa(config, generation)?.certificatePem ?? [])
    .join('');
}
