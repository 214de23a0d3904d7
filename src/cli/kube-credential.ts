import type { Command } from 'commander';
import { loadClientConfig } from '../client/client-config.ts';
import { execCredentialResponse, parseExecCredentialRequest } from '../client/kube-credential-exec-info.ts';
import { obtainKubeCredential } from '../client/kube-credential.ts';
import { collect } from './common.ts';
import { durationValue } from './option-values.ts';

interface KubeCredentialCliOptions {
  cluster: string;
  ttl?: string;
  operation?: string[];
  clientConfig?: string;
}

/**
 * `jitca kube-credential`: the kubectl exec credential plugin (a kubeconfig user's `exec`, see
 * `jitca kubeconfig`). stdout carries only the ExecCredential; errors go to stderr as
 * "jitca: CODE: message" (main's reportAndExit) and never include the key or the token.
 */
export function registerKubeCredential(program: Command): void {
  program
    .command('kube-credential')
    .description('kubectl exec plugin: print an ExecCredential with a short-lived jitca client certificate (cached until near expiry)')
    .requiredOption('--cluster <cluster>', 'cluster scope in the policy, e.g. prod')
    .option('--ttl <duration>', 'lifetime, e.g. 30m (the role caps it)', durationValue)
    .option('--operation <operation>', 'operation needed: view-logs, view-config, exec, debug, port-forward (repeatable; default: the least the role allows)', collect)
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .action(async (options: KubeCredentialCliOptions) => {
      // Read first: a request jitca cannot answer fails before any token or key is touched.
      const request = parseExecCredentialRequest(process.env['KUBERNETES_EXEC_INFO']);
      const config = loadClientConfig(options.clientConfig);
      const { credential } = await obtainKubeCredential(config, { cluster: options.cluster, ttl: options.ttl, operations: options.operation });
      process.stdout.write(`${JSON.stringify(execCredentialResponse(request.apiVersion, credential))}\n`);
    });
}
