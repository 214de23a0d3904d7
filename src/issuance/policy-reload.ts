import type { Clock } from '../clock.ts';
import { ErrorCodes, isJitcaError } from '../errors.ts';
import { policyDigestOf, policyFromBytes, readPolicyFile } from '../policy/load.ts';
import type { Store } from '../store/types.ts';
import { recordPolicyInForce, type PolicyHolder, type PolicyLoadReason, type PolicyVersion } from './policy-in-force.ts';

export interface PolicyReloadLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface PolicyReloaderOptions {
  holder: PolicyHolder;
  file: string;
  store: Pick<Store, 'appendAudit'>;
  process: 'serve' | 'controller';
  clock: Clock;
  log: PolicyReloadLog;
}

export type PolicyReloadOutcome = 'loaded' | 'unchanged' | 'refused';

/**
 * Reloads the policy file into the holder. A file that loads is audited (`policy.loaded` with its
 * digest, roles and reason) before it decides anything, so no decision is made under a policy the
 * log does not name. A file that does not load leaves the policy in force deciding; the refusal is
 * logged and audited (`policy.refused`: the file's digest and the error code and JSON path, never
 * the file's content) once per distinct file, and counted. Reloads run one at a time, in the
 * order asked, so the audit's order is the order the versions came into force.
 */
export function createPolicyReloader(options: PolicyReloaderOptions): { reload(reason: Exclude<PolicyLoadReason, 'start'>): Promise<PolicyReloadOutcome> } {
  const { holder, file, store, log } = options;
  let lastRefused: string | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const reloadNow = async (reason: Exclude<PolicyLoadReason, 'start'>): Promise<PolicyReloadOutcome> => {
    let digest: string | undefined;
    let version: PolicyVersion;
    try {
      const bytes = readPolicyFile(file);
      digest = policyDigestOf(bytes);
      // Saving the same bytes again (or a ConfigMap update that left this file as it was) is no new version.
      if (digest === holder.current().digest) {
        lastRefused = undefined;
        return 'unchanged';
      }
      version = { policy: policyFromBytes(bytes, file), digest, loadedAt: options.clock.now() };
    } catch (error) {
      // An editor saving the same broken file twice, or the watch and a signal together, is one refusal.
      if (digest !== undefined && digest === lastRefused) return 'refused';
      lastRefused = digest;
      await refuse(reason, digest, refusalOf(error));
      return 'refused';
    }
    try {
      await recordPolicyInForce(store, { version, file, process: options.process, reason });
    } catch (error) {
      // Not audited, not in force: the next signal or save tries again.
      holder.countRefusal();
      log.warn({ err: error, file, sha256: digest, reason }, 'policy reload not audited, so not applied: the policy in force keeps deciding');
      return 'refused';
    }
    holder.replace(version);
    lastRefused = undefined;
    log.info({ file, sha256: digest, roles: version.policy.roles.length, reason }, 'policy reloaded');
    return 'loaded';
  };

  const refuse = async (reason: string, digest: string | undefined, why: { code: string; path: string }): Promise<void> => {
    holder.countRefusal();
    const keeping = holder.current().digest;
    log.warn(
      { file, sha256: digest, reason, ...why, keeping },
      `policy reload refused, the policy in force keeps deciding: ${why.code} at ${why.path === '' ? '(root)' : why.path} (\`jitca policy check\` on the file says more)`,
    );
    await store
      .appendAudit({ type: 'policy.refused', actor: 'system', data: { file, sha256: digest ?? null, ...why, process: options.process, reason, keeping } })
      .catch((error: unknown) => log.warn({ err: error }, 'the refused policy reload could not be audited'));
  };

  return {
    reload(reason) {
      const next = queue.then(() => reloadNow(reason));
      queue = next.catch(() => undefined);
      return next;
    },
  };
}

/**
 * Why a file was refused, without its content: the error code and the JSON Pointer of the bad
 * value (field names and indexes). The loader's message can quote the file (a JSON syntax error
 * shows the text around it), so it stays out of the log and the audit.
 */
function refusalOf(error: unknown): { code: string; path: string } {
  if (!isJitcaError(error)) return { code: ErrorCodes.POLICY_INVALID, path: '' };
  const path = error.details?.['path'];
  if (typeof path !== 'string') return { code: error.code, path: '' };
  // A pointer can carry a key the file invented (an unknown or repeated field): bounded, as any name.
  return { code: error.code, path: path.length > MAX_REFUSAL_PATH ? `${path.slice(0, MAX_REFUSAL_PATH)}...` : path };
}

const MAX_REFUSAL_PATH = 256;
