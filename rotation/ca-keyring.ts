import { ErrorCodes, JitcaError } from '../src/errors.ts';
import type { Clock } from '../src/clock.ts';
import type { KeyManager } from '../src/keys/key-manager.ts';
import type { Signer } from '../src/keys/signer.ts';
import type { CaGeneration, CaKind, Store } from '../src/store/types.ts';
import { generationsFromKeys } from './generations-from-keys.ts';

/** A generation row with the signer for its key. */
export interface KeyringGeneration extends CaGeneration {
  signer: Signer;
}

/**
 * The CA keyring: for each CA its generations, as the store records them, with their keys from
 * the key manager. The one place that answers "which key signs" and "which keys are trusted";
 * trust bundles, KRLs, the Kubernetes client CA bundle and the issuing paths all ask it.
 */
export interface CaKeyring {
  /** The generation that signs now. ERR_HSM_KEY_NOT_FOUND when the CA has none (run jitca init). */
  active(ca: CaKind): KeyringGeneration;
  /** What relying parties must trust now (next, active and retiring generations), oldest first. */
  trusted(ca: CaKind): KeyringGeneration[];
  /** Changes on every change of the rows read: a cheap "is my cached view still current". */
  readonly version: number;
  /** Re-reads the store; calls the listeners and returns true when the generations changed. */
  refresh(): Promise<boolean>;
  /** Called after every change refresh() sees; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Refreshes every intervalMs until close(), so a process picks up a rotation without a restart. */
  watch(intervalMs: number, onError: (error: unknown) => void): void;
  close(): void;
}

export interface CaKeyringOptions {
  store: Pick<Store, 'listCaGenerations' | 'recordCaGenerations'>;
  keys: KeyManager;
  /** The key manager's slot prefix of each CA (config ssh.caName, kubernetes.caName). */
  caNames: Readonly<Record<CaKind, string>>;
  clock: Clock;
}

/**
 * How often a long-running process (serve, controller) re-reads the generations from the store: a
 * rotation recorded by another process or replica takes effect within this interval.
 */
export const KEYRING_REFRESH_MS = 10_000;

const CA_KINDS: readonly CaKind[] = ['ssh-user', 'kube-client'];
const TRUSTED_STATES: ReadonlySet<CaGeneration['state']> = new Set(['next', 'active', 'retiring']);

/**
 * Opens the keyring. A CA with keys in the key manager but no rows in the store gets its rows
 * built from those keys (generationsFromKeys), written with one `ca.generations` audit record.
 */
export async function openCaKeyring(options: CaKeyringOptions): Promise<CaKeyring> {
  await recordMissingGenerations(options);
  const rows = await options.store.listCaGenerations();
  let generations = resolve(rows, options.keys);
  let fingerprint = fingerprintOf(rows);
  let version = 0;
  const listeners = new Set<() => void>();
  let timer: NodeJS.Timeout | undefined;

  const keyring: CaKeyring = {
    active(ca) {
      const active = generations.filter((generation) => generation.ca === ca && generation.state === 'active');
      const [only] = active;
      if (only === undefined || active.length > 1) {
        throw new JitcaError(
          ErrorCodes.HSM_KEY_NOT_FOUND,
          only === undefined ? `no active ${ca} CA generation (${options.caNames[ca]}); run jitca init` : `${active.length} active ${ca} CA generations; exactly one must sign`,
          { details: { ca, active: active.map((generation) => generation.keyId) } },
        );
      }
      return only;
    },
    trusted: (ca) => generations.filter((generation) => generation.ca === ca && TRUSTED_STATES.has(generation.state)),
    get version() {
      return version;
    },
    async refresh() {
      const rows = await options.store.listCaGenerations();
      const next = fingerprintOf(rows);
      if (next === fingerprint) return false;
      generations = resolve(rows, options.keys);
      fingerprint = next;
      version += 1;
      for (const listener of listeners) listener();
      return true;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    watch(intervalMs, onError) {
      if (timer !== undefined) clearInterval(timer);
      timer = setInterval(() => keyring.refresh().catch(onError), intervalMs);
      timer.unref();
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      listeners.clear();
    },
  };
  return keyring;
}

async function recordMissingGenerations(options: CaKeyringOptions): Promise<void> {
  const existing = await options.store.listCaGenerations();
  const nowIso = new Date(options.clock.now()).toISOString();
  const missing = CA_KINDS.filter((ca) => !existing.some((generation) => generation.ca === ca)).flatMap((ca) =>
    generationsFromKeys(ca, options.caNames[ca], options.keys, nowIso),
  );
  if (missing.length === 0) return;
  await options.store.recordCaGenerations({
    generations: missing,
    event: {
      type: 'ca.generations',
      actor: 'system',
      data: {
        reason: 'built from the CA keys in the key store (newest active, older retiring)',
        generations: missing.map(({ ca, generation, state, keyId }) => ({ ca, generation, state, keyId })),
      },
    },
  });
}

/** Rows to generations with signers; a key that is not the one the row recorded is refused. */
function resolve(rows: readonly CaGeneration[], keys: KeyManager): KeyringGeneration[] {
  return rows
    .filter((row) => row.state !== 'retired')
    .map((row) => {
      const [caName, generation] = slotOf(row.keyId);
      const signer = keys.requireSigner({ caName, generation });
      if (Buffer.from(signer.spki).toString('base64') !== row.publicKey) {
        throw new JitcaError(ErrorCodes.HSM_FAILURE, `key ${row.keyId} in the key store is not the public key the store recorded for ${row.ca} generation ${row.generation}`, {
          details: { keyId: row.keyId, ca: row.ca, generation: row.generation },
        });
      }
      return { ...row, signer };
    });
}

function slotOf(keyId: string): [string, number] {
  const slash = keyId.lastIndexOf('/');
  return [keyId.slice(0, slash), Number(keyId.slice(slash + 1))];
}

function fingerprintOf(rows: readonly CaGeneration[]): string {
  return JSON.stringify(rows.map(({ ca, generation, state, keyId, publicKey, activatedAt, retiringAt, retiredAt }) => [ca, generation, state, keyId, publicKey, activatedAt, retiringAt, retiredAt]));
}
