import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { CaRuntime } from '../ca-runtime.ts';
import { createPolicyReloader, type PolicyReloadLog } from '../issuance/policy-reload.ts';
import { createDebounce } from './debounce.ts';

/** Editors and ConfigMap updates touch the directory several times per save; one reload after the last. */
export const POLICY_WATCH_DEBOUNCE_MS = 300;

/**
 * Reloads the policy file on SIGHUP and when it changes, for `serve` and `controller`. The
 * directory is watched, not the file: an editor's save by rename and a Kubernetes ConfigMap
 * update (a new `..data` symlink renamed over the old one) replace the file, and a watch on the
 * file itself would go on watching the old inode. A policy file that is a symlink elsewhere is
 * caught only through a ConfigMap's `..data` or by SIGHUP.
 */
export function reloadPolicyOnChange(runtime: Pick<CaRuntime, 'policyInForce' | 'store' | 'clock' | 'config'>, by: 'serve' | 'controller', log: PolicyReloadLog): { stop(): void } {
  const file = runtime.config.policyFile;
  const reloader = createPolicyReloader({ holder: runtime.policyInForce, file, store: runtime.store, process: by, clock: runtime.clock, log });
  const failed = (error: unknown): void => log.warn({ err: error }, 'policy reload failed');
  const onFileChange = createDebounce(POLICY_WATCH_DEBOUNCE_MS, () => void reloader.reload('file-change').catch(failed));
  const name = path.basename(file);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(file), { persistent: false }, (_event, changed) => {
      // No name (some platforms), the file, or Kubernetes' atomic writer's `..data`/`..data_tmp`.
      if (changed === null || changed === name || changed.startsWith('..')) onFileChange.trigger();
    });
    watcher.on('error', (error) => log.warn({ err: error, file }, 'policy file watch failed: reload with SIGHUP'));
  } catch (error) {
    log.warn({ err: error, file }, 'policy file cannot be watched: reload with SIGHUP');
  }
  const onSignal = (): void => void reloader.reload('signal').catch(failed);
  process.on('SIGHUP', onSignal);
  return {
    stop() {
      process.off('SIGHUP', onSignal);
      onFileChange.cancel();
      watcher?.close();
    },
  };
}
