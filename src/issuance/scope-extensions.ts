import type { SshGrant } from '../policy/types.ts';

/**
 * Scope travels in extensions named name@domain: sshd ignores unknown extensions (so they do not
 * break logins) and the just-in-time gateway reads them (SECURITY-NOTES.md: scope that sshd itself
 * must enforce belongs in critical options instead, which is why force-command and source-address
 * are critical options and these are not).
 */
export function scopeExtensions(grant: SshGrant, domain: string, approvalReference: string): Record<string, string> {
  const extensions: Record<string, string> = {
    [`scope-cluster@${domain}`]: grant.scope.cluster,
    [`scope-namespace@${domain}`]: grant.scope.namespace,
    [`role@${domain}`]: grant.role,
    [`approval@${domain}`]: approvalReference,
  };
  if (grant.scope.pod !== undefined) extensions[`scope-pod@${domain}`] = grant.scope.pod;
  if (grant.scope.node !== undefined) extensions[`scope-node@${domain}`] = grant.scope.node;
  // JSON keeps commands with spaces and commas unambiguous for the gateway.
  if (grant.commands !== undefined) extensions[`commands@${domain}`] = JSON.stringify(grant.commands);
  return extensions;
}
