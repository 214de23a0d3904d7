import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from './atomic-file.ts';
import type { Clock } from './clock.ts';
import { systemClock } from './clock.ts';
import type { JitcaConfig } from './config.ts';
import { ErrorCodes, JitcaError } from './errors.ts';
import { parseKeyAlgorithmName, type Signer } from '../hsm/signer.ts';
import { ensureSoftHsmToken, readPinFile } from '../hsm/softhsm-bootstrap.ts';
import { openPkcs11Token, type Pkcs11Token } from '../hsm/pkcs11-token.ts';
import { loadPolicyWithDigest } from './policy/load.ts';
import { assertPrivateFilesUnder, embeddedTokenDirectory, PRIVATE_FILE_MODE } from './private-files.ts';
import type { Policy } from './policy/types.ts';
import { openStore, type Store } from './store/store.ts';
import { openWorkerStore } from './store/worker-store.ts';
import { openPostgresStore } from './store/postgres-database.ts';
import type { SshIssuanceContext } from './issuance/issue-ssh-certificate.ts';
import { ensureKubeCaCertificate, loadKubeClientCa, type KubeClientCa } from './issuance/kube-client-ca.ts';

/** Everything a running CA holds open: the token, the store and the loaded policy. */
export interface CaRuntime {
  config: JitcaConfig;
  token: Pkcs11Token;
  store: Store;
  policy: Policy;
  /** SHA-256 (hex) of the policy file's bytes as loaded. */
  policyDigest: string;
  clock: Clock;
  /** The SSH user CA generation that signs now (the newest in the token). */
  sshSigner: Signer;
  sshIssuance: SshIssuanceContext;
  /** The Kubernetes client CA generation that signs now. */
  kubeCa: KubeClientCa;
  close(): Promise<void>;
}

const EXAMPLE_POLICY = fileURLToPath(new URL('../deploy/policy.example.json', import.meta.url));

/**
 * `jitca init` and the first `jitca serve`: creates the embedded SoftHSM2 token, the SSH user CA
 * key inside it, the store and a starting policy, each only when missing. A second run changes
 * nothing and reports created: [].
 */
export async function initializeCa(config: JitcaConfig, clock: Clock = systemClock): Promise<{ created: string[] }> {
  const created: string[] = [];
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  if (config.hsm.embedded) {
    assertPrivateFilesUnder(embeddedTokenDirectory(config), 'embedded token file');
    const token = ensureSoftHsmToken({ dataDir: config.dataDir, tokenLabel: config.hsm.tokenLabel, modulePath: config.hsm.modulePath });
    if (token.created) created.push(`softhsm2 token "${config.hsm.tokenLabel}"`);
  }
  if (!existsSync(config.policyFile)) {
    // The example is a start for review, not an authority: the security team edits it in git.
    writeFileAtomic(config.policyFile, readFileSync(EXAMPLE_POLICY), PRIVATE_FILE_MODE);
    created.push(`policy ${path.relative(process.cwd(), config.policyFile) || config.policyFile}`);
  }
  const store = await openConfiguredStore(config, clock);
  const token = openToken(config);
  try {
    for (const ca of [
      { name: config.ssh.caName, algorithm: config.ssh.keyAlgorithm, purpose: 'ssh-user', label: 'SSH user CA' },
      { name: config.kubernetes.caName, algorithm: config.kubernetes.keyAlgorithm, purpose: 'kubernetes-client', label: 'Kubernetes client CA' },
    ]) {
      if (newestGeneration(token, ca.name) !== undefined) continue;
      const algorithm = parseKeyAlgorithmName(ca.algorithm);
      if (algorithm === undefined) throw new JitcaError(ErrorCodes.CONFIG_INVALID, `unknown key algorithm ${ca.algorithm}`);
      const signer = await token.generateKey(ca.name, 1, algorithm);
      await store.appendAudit({ type: 'ca.created', actor: 'system', data: { caKeyId: signer.keyId, algorithm: ca.algorithm, purpose: ca.purpose } });
      created.push(`${ca.label} key ${signer.keyId} (${ca.algorithm}, non-extractable)`);
    }
    const kubeGeneration = newestGeneration(token, config.kubernetes.caName) ?? 1;
    const kubeSigner = token.requireSigner(config.kubernetes.caName, kubeGeneration);
    if (await ensureKubeCaCertificate(config, kubeSigner, kubeGeneration, clock)) {
      created.push(`Kubernetes client CA certificate ${config.kubernetes.caName}/${kubeGeneration}.pem`);
    }
  } finally {
    token.close();
    await store.close();
  }
  return { created };
}

export async function openCaRuntime(config: JitcaConfig, clock: Clock = systemClock): Promise<CaRuntime> {
  if (config.hsm.embedded) {
    assertPrivateFilesUnder(embeddedTokenDirectory(config), 'embedded token file');
    ensureSoftHsmToken({ dataDir: config.dataDir, tokenLabel: config.hsm.tokenLabel, modulePath: config.hsm.modulePath });
  }
  const { policy, sha256: policyDigest } = loadPolicyWithDigest(config.policyFile);
  const token = openToken(config);
  let store: Store | undefined;
  try {
    // The SQLite store runs on its own thread so its synchronous fsyncs never stall the event
    // loop; an injected clock (tests) needs the in-process store, which reads time from it.
    store =
      clock === systemClock && config.store.postgresUrl === undefined
        ? await openWorkerStore({ sqlitePath: config.store.sqlitePath })
        : await openConfiguredStore(config, clock);
    const generation = newestGeneration(token, config.ssh.caName);
    const sshSigner = generation === undefined ? undefined : token.findSigner(config.ssh.caName, generation);
    if (sshSigner === undefined) {
      throw new JitcaError(ErrorCodes.HSM_KEY_NOT_FOUND, `no ${config.ssh.caName} key in token "${config.hsm.tokenLabel}"; run jitca init`);
    }
    const kubeGeneration = newestGeneration(token, config.kubernetes.caName);
    const kubeCa = kubeGeneration === undefined ? undefined : loadKubeClientCa(config, token, kubeGeneration);
    if (kubeCa === undefined) {
      throw new JitcaError(ErrorCodes.HSM_KEY_NOT_FOUND, `no ${config.kubernetes.caName} key and certificate; run jitca init`);
    }
    const openedStore = store;
    return {
      kubeCa,
      config,
      token,
      store: openedStore,
      policy,
      policyDigest,
      clock,
      sshSigner,
      sshIssuance: { policy, store: openedStore, activeSigner: () => sshSigner, clock, backdateSeconds: config.ssh.backdateSeconds },
      async close() {
        await openedStore.close();
        token.close();
      },
    };
  } catch (error) {
    await store?.close();
    token.close();
    throw error;
  }
}

/** PostgreSQL when store.postgresUrl is set (its driver is asynchronous: no worker thread needed), else SQLite. */
export function openConfiguredStore(config: JitcaConfig, clock: Clock): Promise<Store> {
  const url = config.store.postgresUrl;
  return url === undefined ? openStore({ sqlitePath: config.store.sqlitePath, clock }) : openPostgresStore({ url, clock });
}

/** All SSH user CA generations in the token, oldest first: what sshd must trust during overlap. */
export function sshCaSigners(runtime: Pick<CaRuntime, 'token' | 'config'>): Signer[] {
  return runtime.token
    .listKeys(runtime.config.ssh.caName)
    .map((key) => key.generation)
    .sort((a, b) => a - b)
    .flatMap((generation) => runtime.token.findSigner(runtime.config.ssh.caName, generation) ?? []);
}

function newestGeneration(token: Pkcs11Token, caName: string): number | undefined {
  const generations = token.listKeys(caName).map((key) => key.generation);
  return generations.length === 0 ? undefined : Math.max(...generations);
}

function openToken(config: JitcaConfig): Pkcs11Token {
  return openPkcs11Token({
    modulePath: config.hsm.modulePath,
    tokenLabel: config.hsm.tokenLabel,
    pin: readPin(config),
    sessions: config.hsm.sessions,
  });
}

/** The PIN is read here, at the edge, from a 0600 file or a named environment variable. */
function readPin(config: JitcaConfig): string {
  if (config.hsm.pinEnv !== undefined) {
    const pin = process.env[config.hsm.pinEnv];
    if (pin === undefined || pin === '') {
      throw new JitcaError(ErrorCodes.CONFIG_INVALID, `environment variable ${config.hsm.pinEnv} (HSM PIN) is not set`);
    }
    return pin;
  }
  if (config.hsm.pinFile === undefined) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'hsm.pinFile or hsm.pinEnv must name where the HSM PIN comes from');
  }
  return readPinFile(config.hsm.pinFile);
}
