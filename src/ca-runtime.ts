import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from './atomic-file.ts';
import type { Clock } from './clock.ts';
import { systemClock } from './clock.ts';
import type { JitcaConfig } from './config.ts';
import { ErrorCodes, JitcaError } from './errors.ts';
import { parseKeyAlgorithmName, type Signer } from './keys/signer.ts';
import { createKeyManager, type KeyManager } from './keys/key-manager.ts';
import { mapBackendErrors } from './keys/backend-errors.ts';
import { ensureSoftHsmToken, readPinFile, useSoftHsmToken } from '../hsm/softhsm-bootstrap.ts';
import { openPkcs11Token, type Pkcs11Token } from '../hsm/pkcs11-token.ts';
import { measureRawPkcs11SignRate, type RawSignRate } from '../hsm/raw-sign-rate.ts';
import { openCaKeyring, type CaKeyring } from '../rotation/ca-keyring.ts';
import { generationsFromKeys } from '../rotation/generations-from-keys.ts';
import { loadPolicyWithDigest } from './policy/load.ts';
import { SESSION_KEY_SLOT } from './authn/local-session.ts';
import { assertPrivateFilesUnder, embeddedTokenDirectory, PRIVATE_FILE_MODE } from './private-files.ts';
import { openStore, type Store } from './store/store.ts';
import { openWorkerStore } from './store/worker-store.ts';
import { outboxSinksOf } from './notify/webhook-sinks.ts';
import { openPostgresStore } from './store/postgres-database.ts';
import type { CaKind } from './store/types.ts';
import type { SshIssuanceContext } from './issuance/issue-ssh-certificate.ts';
import { createPolicyHolder, type PolicyHolder } from './issuance/policy-in-force.ts';
import { createSshKrlCache, type SshKrlCache } from './issuance/ssh-krl-cache.ts';
import { activeKubeClientCa, ensureKubeCaCertificate, type KubeClientCa } from './issuance/kube-client-ca.ts';

/**
 * Everything a running CA holds open: the key manager, the CA keyring over it, the store and the
 * loaded policy. This file only composes: it picks the key backend (PKCS#11, the one place above
 * hsm/ that names it) and the store, and hands each part what it needs.
 */
export interface CaRuntime {
  config: JitcaConfig;
  keys: KeyManager;
  keyring: CaKeyring;
  store: Store;
  /** The policy in force (parsed file, SHA-256 of its bytes, load time); a reload swaps it. */
  policyInForce: PolicyHolder;
  clock: Clock;
  /** The SSH user CA generation that signs now (the keyring's active one, read at each access). */
  readonly sshSigner: Signer;
  /**
   * A new context at each access, under the policy in force then: read it once per request, so the
   * request decides wholly under one version. Its `signer` is read from the keyring at each
   * signature, so each issuance signs with the active generation.
   */
  readonly sshIssuance: SshIssuanceContext;
  /** The Kubernetes client CA generation that signs now, read at each access. */
  readonly kubeCa: KubeClientCa;
  /** The published KRL, rebuilt once per change (issuance/ssh-krl-cache.ts). */
  sshKrl: SshKrlCache;
  close(): Promise<void>;
}

const EXAMPLE_POLICY = fileURLToPath(new URL('../deploy/policy.example.json', import.meta.url));

/** The tokens behind runtimes, for the raw PKCS#11 benchmark only (measureRawSignRate). */
const tokens = new WeakMap<CaRuntime, Pkcs11Token>();

/** The key manager's slot prefix of each CA. */
function caNamesOf(config: JitcaConfig): Record<CaKind, string> {
  return { 'ssh-user': config.ssh.caName, 'kube-client': config.kubernetes.caName };
}

/**
 * `jitca init` and the first `jitca serve`: creates the embedded SoftHSM2 token, the CA keys
 * inside it, their generation rows in the store, the store and a starting policy, each only when
 * missing. A second run changes nothing and reports created: [].
 */
export async function initializeCa(config: JitcaConfig, clock: Clock = systemClock): Promise<{ created: string[] }> {
  const created: string[] = [];
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  if (config.hsm.embedded) {
    assertPrivateFilesUnder(embeddedTokenDirectory(config), 'embedded token file');
    const token = mapBackendErrors(() => ensureSoftHsmToken({ dataDir: config.dataDir, tokenLabel: config.hsm.tokenLabel, modulePath: config.hsm.modulePath }));
    if (token.created) created.push(`softhsm2 token "${config.hsm.tokenLabel}"`);
  }
  if (!existsSync(config.policyFile)) {
    // The example is a start for review, not an authority: the security team edits it in git.
    writeFileAtomic(config.policyFile, readFileSync(EXAMPLE_POLICY), PRIVATE_FILE_MODE);
    created.push(`policy ${path.relative(process.cwd(), config.policyFile) || config.policyFile}`);
  }
  const store = await openConfiguredStore(config, clock);
  const { keys } = openKeyManager(config);
  try {
    for (const ca of [
      { kind: 'ssh-user', name: config.ssh.caName, algorithm: config.ssh.keyAlgorithm, purpose: 'ssh-user', label: 'SSH user CA' },
      { kind: 'kube-client', name: config.kubernetes.caName, algorithm: config.kubernetes.keyAlgorithm, purpose: 'kubernetes-client', label: 'Kubernetes client CA' },
    ] as const) {
      if (keys.list(ca.name).length > 0) continue;
      const algorithm = parseKeyAlgorithmName(ca.algorithm);
      if (algorithm === undefined) throw new JitcaError(ErrorCodes.CONFIG_INVALID, `unknown key algorithm ${ca.algorithm}`);
      const signer = await keys.createKey({ caName: ca.name, generation: 1 }, algorithm);
      // The key's generation row (active) and its audit record in one transaction.
      await store.recordCaGenerations({
        generations: generationsFromKeys(ca.kind, ca.name, keys, new Date(clock.now()).toISOString()),
        event: { type: 'ca.created', actor: 'system', data: { caKeyId: signer.keyId, algorithm: ca.algorithm, purpose: ca.purpose } },
      });
      created.push(`${ca.label} key ${signer.keyId} (${ca.algorithm}, non-extractable)`);
    }
    if (keys.signer(SESSION_KEY_SLOT) === undefined) {
      // Local identities' session tokens are signed in the token too: no session secret in a file.
      const signer = await keys.createKey(SESSION_KEY_SLOT, { kind: 'ed25519' });
      await store.appendAudit({ type: 'ca.created', actor: 'system', data: { caKeyId: signer.keyId, algorithm: 'ed25519', purpose: 'local-session' } });
      created.push(`session token key ${signer.keyId} (ed25519, non-extractable)`);
    }
    const keyring = await openCaKeyring({ store, keys, caNames: caNamesOf(config), clock });
    keyring.close();
    const kube = keyring.active('kube-client');
    if (await ensureKubeCaCertificate(config, kube.signer, kube.generation, clock)) {
      created.push(`Kubernetes client CA certificate ${config.kubernetes.caName}/${kube.generation}.pem`);
    }
  } finally {
    keys.close();
    await store.close();
  }
  return { created };
}

/**
 * Opens what `jitca init` made, creating nothing: a missing data directory, token or SQLite file
 * is ERR_CONFIG_INVALID (only init and serve, which runs init first, may create them).
 */
export async function openCaRuntime(config: JitcaConfig, clock: Clock = systemClock): Promise<CaRuntime> {
  assertInitialized(config);
  const { policy, sha256: digest } = loadPolicyWithDigest(config.policyFile);
  const policyInForce = createPolicyHolder({ policy, digest, loadedAt: clock.now() });
  const { keys, token } = openKeyManager(config);
  let store: Store | undefined;
  try {
    // The SQLite store runs on its own thread so its synchronous fsyncs never stall the event
    // loop; an injected clock (tests) needs the in-process store, which reads time from it.
    store =
      clock === systemClock && config.store.postgresUrl === undefined
        ? await openWorkerStore({ sqlitePath: config.store.sqlitePath, outboxSinks: outboxSinksOf(config.notifications) })
        : await openConfiguredStore(config, clock);
    const keyring = await openCaKeyring({ store, keys, caNames: caNamesOf(config), clock });
    // Both CAs must be able to sign before the process says it started.
    keyring.active('ssh-user');
    const kubeCa = activeKubeClientCa(config, keyring);
    kubeCa();
    const openedStore = store;
    const sshKrl = createSshKrlCache({ store: openedStore, keyring, config, clock });
    const runtime: CaRuntime = {
      config,
      keys,
      keyring,
      store: openedStore,
      policyInForce,
      clock,
      get sshSigner() {
        return keyring.active('ssh-user').signer;
      },
      // Getters, not copies: each issuance decides under the policy in force and signs with the
      // generation the keyring calls active then.
      get sshIssuance() {
        return {
          policy: policyInForce.current().policy,
          store: openedStore,
          clock,
          backdateSeconds: config.ssh.backdateSeconds,
          activeSigner: () => keyring.active('ssh-user').signer,
        };
      },
      get kubeCa() {
        return kubeCa();
      },
      sshKrl,
      async close() {
        sshKrl.close();
        keyring.close();
        await openedStore.close();
        keys.close();
      },
    };
    tokens.set(runtime, token);
    return runtime;
  } catch (error) {
    await store?.close();
    keys.close();
    throw error;
  }
}

/** PostgreSQL when store.postgresUrl is set (its driver is asynchronous: no worker thread needed), else SQLite. */
export function openConfiguredStore(config: JitcaConfig, clock: Clock): Promise<Store> {
  const url = config.store.postgresUrl;
  // Every writer of the store announces what it commits (the sinks' outbox rows), serve or CLI alike.
  const outboxSinks = outboxSinksOf(config.notifications);
  return url === undefined ? openStore({ sqlitePath: config.store.sqlitePath, clock, outboxSinks }) : openPostgresStore({ url, clock, outboxSinks });
}

/** Raw PKCS#11 signatures per second with the active SSH user CA key (bench/sign.ts, bench/api.ts). */
export function measureRawSignRate(runtime: CaRuntime, seconds: number): Promise<RawSignRate> {
  const token = tokens.get(runtime);
  if (token === undefined) throw new JitcaError(ErrorCodes.HSM_FAILURE, 'not a runtime opened by openCaRuntime');
  return measureRawPkcs11SignRate(token, runtime.sshSigner, seconds);
}

function assertInitialized(config: JitcaConfig): void {
  if (!existsSync(config.dataDir)) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `no jitca data directory at ${config.dataDir}: check --data-dir/--config, or run jitca init`, {
      details: { dataDir: config.dataDir },
    });
  }
  if (config.store.postgresUrl === undefined && !existsSync(config.store.sqlitePath)) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `no jitca database at ${config.store.sqlitePath}: check --data-dir/--config, or run jitca init`, {
      details: { sqlitePath: config.store.sqlitePath },
    });
  }
  if (config.hsm.embedded) {
    assertPrivateFilesUnder(embeddedTokenDirectory(config), 'embedded token file');
    mapBackendErrors(() => useSoftHsmToken({ dataDir: config.dataDir, tokenLabel: config.hsm.tokenLabel, modulePath: config.hsm.modulePath }));
  }
}

/** The key backend this configuration names: PKCS#11 (the embedded SoftHSM2 token or an external module). */
function openKeyManager(config: JitcaConfig): { keys: KeyManager; token: Pkcs11Token } {
  const pin = readPin(config);
  const token = mapBackendErrors(() =>
    openPkcs11Token({ modulePath: config.hsm.modulePath, tokenLabel: config.hsm.tokenLabel, pin, sessions: config.hsm.sessions, signingThreads: config.hsm.signingThreads }),
  );
  return { keys: createKeyManager(token), token };
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
  const pinFile = config.hsm.pinFile;
  return mapBackendErrors(() => readPinFile(pinFile));
}
