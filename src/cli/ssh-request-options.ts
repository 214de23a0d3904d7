import type { Command } from 'commander';
import { parseDuration } from '../policy/duration.ts';
import type { SshCertificateRequest } from '../policy/types.ts';
import { collect } from './common.ts';
import { durationValue } from './option-values.ts';

/** The flags that describe what an SSH certificate request asks for (issue-ssh, policy evaluate). */
export interface SshRequestOptions {
  role?: string;
  principal?: string[];
  ttl?: string;
  cluster?: string;
  namespace?: string;
  pod?: string;
  node?: string;
  command?: string[];
  sourceAddress?: string[];
  operation?: string[];
}

export function addSshRequestOptions(command: Command): Command {
  return command
    .option('--role <role>', 'policy role to use (default: the single role the groups allow)')
    .option('--principal <principal>', 'principal to include, narrowing the role (repeatable)', collect)
    .option('--ttl <duration>', 'lifetime, e.g. 30m (capped or refused above the role maximum)', durationValue)
    .option('--cluster <cluster>', 'scope: cluster')
    .option('--namespace <namespace>', 'scope: namespace')
    .option('--pod <pod>', 'scope: pod')
    .option('--node <node>', 'scope: node')
    .option('--command <command>', 'allowed command, narrowing the role (repeatable)', collect)
    .option('--source-address <cidr>', 'source address restriction (repeatable)', collect)
    .option('--operation <operation>', 'operation needed, e.g. view-logs, exec (repeatable; default: the least the role allows)', collect);
}

/** The request those flags describe; what was not given is left out, as in an API body. */
export function sshRequestFromOptions(options: SshRequestOptions): SshCertificateRequest {
  const scope = Object.fromEntries(
    Object.entries({ cluster: options.cluster, namespace: options.namespace, pod: options.pod, node: options.node }).filter(([, value]) => value !== undefined),
  );
  return {
    ...(options.role === undefined ? {} : { role: options.role }),
    ...(options.principal === undefined ? {} : { principals: options.principal }),
    ...(options.ttl === undefined ? {} : { ttlSeconds: parseDuration(options.ttl) }),
    ...(Object.keys(scope).length === 0 ? {} : { scope }),
    ...(options.command === undefined ? {} : { commands: options.command }),
    ...(options.sourceAddress === undefined ? {} : { sourceAddresses: options.sourceAddress }),
    // Checked by policy (rule "operations.unknown"), as an API body's operations are.
    ...(options.operation === undefined ? {} : { operations: options.operation as SshCertificateRequest['operations'] }),
  };
}
