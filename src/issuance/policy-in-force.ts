import type { Policy } from '../policy/types.ts';
import type { AuditRecord, Store } from '../store/types.ts';

/** One loaded version of the policy file: the parsed policy, the SHA-256 of its bytes, when it was loaded. */
export interface PolicyVersion {
  readonly policy: Policy;
  readonly digest: string;
  /** Milliseconds since the epoch (the process clock) when this version began deciding. */
  readonly loadedAt: number;
}

/**
 * The one place a serving process keeps its policy (serve, controller). Whoever decides reads
 * `current()` once per request or decision and decides wholly with that version; a reload swaps it
 * in one assignment, so a request never sees half of one policy and half of another, and requests
 * already in flight finish under the version they read.
 */
export interface PolicyHolder {
  current(): PolicyVersion;
  replace(next: PolicyVersion): void;
  /** A reload refused its file and kept the version in force (exported as a metric). */
  countRefusal(): void;
  refusals(): number;
}

export function createPolicyHolder(first: PolicyVersion): PolicyHolder {
  let inForce = first;
  let refused = 0;
  return {
    current: () => inForce,
    replace(next) {
      inForce = next;
    },
    countRefusal() {
      refused += 1;
    },
    refusals: () => refused,
  };
}

/** What started or reloaded the policy in force; recorded with it. */
export type PolicyLoadReason = 'start' | 'signal' | 'file-change';

/**
 * Audits which policy this process decides with, when it starts serving (`serve`, `controller`)
 * and at each reload: the SHA-256 of the file's bytes as parsed and its role names. Decisions
 * name their role and rule; with this record an auditor can tell which reviewed version of the
 * policy file made them.
 */
export function recordPolicyInForce(
  store: Pick<Store, 'appendAudit'>,
  loaded: { version: PolicyVersion; file: string; process: 'serve' | 'controller'; reason: PolicyLoadReason },
): Promise<AuditRecord> {
  return store.appendAudit({
    type: 'policy.loaded',
    actor: 'system',
    data: {
      sha256: loaded.version.digest,
      file: loaded.file,
      roles: loaded.version.policy.roles.map((role) => role.name),
      process: loaded.process,
      reason: loaded.reason,
    },
  });
}
