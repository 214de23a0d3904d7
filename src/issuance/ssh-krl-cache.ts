import type { CaKeyring } from '../../rotation/ca-keyring.ts';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/types.ts';
import { sshKrlSnapshotOf, type SshKrlSnapshot } from './ssh-krl.ts';

/**
 * The published KRL, built once per change and served from memory (issue 21: rebuilding it on
 * every GET made it the hottest read of a deployment whose hosts all run trust-sync). It goes
 * stale, and the next current() rebuilds it, when:
 * - this process records a revocation (the caller says so with invalidate(): at once);
 * - the first listed revocation expires past the skew allowance (snapshot.staleAtMs, by the clock);
 * - the keyring's trusted SSH user CAs change (its onChange);
 * - another process or replica records a revocation: watch() polls store.revocationsRevision()
 *   (one index descent) and picks it up within its interval.
 * Between those, current() touches no database.
 */
export interface SshKrlCache {
  current(): Promise<SshKrlSnapshot>;
  /** Something changed here: the next current() rebuilds. */
  invalidate(): void;
  /**
   * Asks the store whether a revocation was recorded since the KRL was built (anywhere: another
   * process, another replica); if so the next current() rebuilds. Returns whether it was.
   */
  refresh(): Promise<boolean>;
  /** refresh() every intervalMs until close(). */
  watch(intervalMs: number, onError: (error: unknown) => void): void;
  close(): void;
}

/** How often serve polls for revocations recorded by another process or replica (as the keyring does for rotations). */
export const KRL_REFRESH_MS = 10_000;

export interface SshKrlCacheOptions {
  store: Pick<Store, 'listRevocations' | 'revocationsRevision'>;
  keyring: Pick<CaKeyring, 'trusted' | 'onChange'>;
  config: { ssh: { backdateSeconds: number } };
  clock: Clock;
}

export function createSshKrlCache(options: SshKrlCacheOptions): SshKrlCache {
  // Each invalidation asks for a newer build; a build started before one cannot answer it.
  let wanted = 0;
  let snapshot: { krl: SshKrlSnapshot; builtFor: number } | undefined;
  let building: { promise: Promise<SshKrlSnapshot>; builtFor: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const invalidate = (): void => {
    wanted += 1;
  };
  const unsubscribe = options.keyring.onChange(invalidate);

  function build(): Promise<SshKrlSnapshot> {
    const builtFor = wanted;
    const promise = sshKrlSnapshotOf(options, options.clock.now()).then(
      (krl) => {
        if (snapshot === undefined || snapshot.builtFor <= builtFor) snapshot = { krl, builtFor };
        return krl;
      },
    ).finally(() => {
      if (building?.promise === promise) building = undefined;
    });
    building = { promise, builtFor };
    return promise;
  }

  async function refresh(): Promise<boolean> {
    const built = snapshot;
    if (built === undefined || built.builtFor !== wanted) return false; // already rebuilding on the next current()
    const revision = await options.store.revocationsRevision();
    if (revision === built.krl.revision) return false;
    invalidate();
    return true;
  }

  return {
    current() {
      if (snapshot !== undefined && snapshot.builtFor === wanted && options.clock.now() < snapshot.krl.staleAtMs) {
        return Promise.resolve(snapshot.krl);
      }
      if (building !== undefined && building.builtFor === wanted) return building.promise;
      return build();
    },
    invalidate,
    refresh,
    watch(intervalMs, onError) {
      if (timer !== undefined) clearInterval(timer);
      timer = setInterval(() => refresh().catch(onError), intervalMs);
      timer.unref();
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      unsubscribe();
    },
  };
}
