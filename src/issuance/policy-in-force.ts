import type { Policy } from '../policy/types.ts';
import type { AuditRecord, Store } from '../store/types.ts';

/** What a serving process holds of its policy: the parsed file and the SHA-256 of its bytes. */
export interface PolicyInForce {
  store: Pick<Store, 'appendAudit'>;
  policy: Policy;
  policyDigest: string;
  config: { policyFile: string };
}

/**
 * Audits which policy this process decides with, when it starts serving (`serve`, `controller`):
 * the SHA-256 of the file's bytes as parsed and its role names. Decisions name their role and
 * rule; with this record an auditor can tell which reviewed version of the policy file made them.
 */
export function recordPolicyInForce(runtime: PolicyInForce, by: 'serve' | 'controller'): Promise<AuditRecord> {
  return runtime.store.appendAudit({
    type: 'policy.loaded',
    actor: 'system',
    data: {
      sha256: runtime.policyDigest,
      file: runtime.config.policyFile,
      roles: runtime.policy.roles.map((role) => role.name),
      process: by,
    },
  });
}
