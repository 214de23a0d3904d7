import type { SshGrant } from '../policy/types.ts';

interface ScopeExtensionNames {
  cluster: string;
  namespace: string;
  role: string;
  approval: string;
  pod: string;
  node: string;
  commands: string;
  operations: string;
}

/** The names depend only on the policy's extension domain: built once per domain, not per certificate. */
const namesByDomain = new Map<string, ScopeExtensionNames>();

function namesFor(domain: string): ScopeExtensionNames {
  let names = namesByDomain.get(domain);
  if (names === undefined) {
    names = {
      cluster: `scope-cluster@${domain}`,
      namespace: `scope-namespace@${domain}`,
      role: `role@${domain}`,
      approval: `approval@${domain}`,
      pod: `scope-pod@${domain}`,
      node: `scope-node@${domain}`,
      commands: `commands@${domain}`,
      operations: `operations@${domain}`,
    };
    namesByDomain.set(domain, names);
  }
  return names;
}

/**
 * Scope travels in extensions named name@domain: sshd ignores unknown extensions (so they do not
 * break logins) and the just-in-time gateway reads them (SECURITY-NOTES.md: scope that sshd itself
 * must enforce belongs in critical options instead, which is why force-command and source-address
 * are critical options and these are not).
 */
export function scopeExtensions(grant: SshGrant, domain: string, approvalReference: string): Record<string, string> {
  const names = namesFor(domain);
  const extensions: Record<string, string> = {
    [names.cluster]: grant.scope.cluster,
    [names.namespace]: grant.scope.namespace,
    [names.role]: grant.role,
    [names.approval]: approvalReference,
  };
  if (grant.scope.pod !== undefined) extensions[names.pod] = grant.scope.pod;
  if (grant.scope.node !== undefined) extensions[names.node] = grant.scope.node;
  // JSON keeps commands with spaces and commas unambiguous for the gateway.
  if (grant.commands !== undefined) extensions[names.commands] = JSON.stringify(grant.commands);
  // Operation names are plain words from a fixed list, so a comma-separated list is unambiguous.
  if (grant.operations !== undefined) extensions[names.operations] = grant.operations.join(',');
  return extensions;
}
