import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { buildKubeconfig } from '../client/kubeconfig.ts';
import { kubeconfigWriteTarget, mergeIntoKubeconfigFile } from '../client/kubeconfig-merge.ts';
import { toYaml } from '../client/kubeconfig-yaml.ts';
import { isSingleExecutable } from '../single-executable.ts';
import { collect } from './common.ts';

interface KubeconfigCliOptions {
  cluster: string;
  server: string;
  certificateAuthority?: string;
  ttl?: string;
  clientConfig?: string;
  namespace?: string;
  operation?: string[];
  command?: string;
  output: string;
  merge?: boolean;
  kubeconfig?: string;
}

/**
 * The jitca that kubectl should run: this single executable, or this checkout's launcher.
 * kubectl runs plugins without a shell, so an absolute path is safest.
 */
function ownCommand(): string {
  return isSingleExecutable() ? process.execPath : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/jitca');
}

export function registerKubeconfig(program: Command): void {
  program
    .command('kubeconfig')
    .description(
      'print a kubeconfig whose user runs `jitca kube-credential` (save it as its own file and add it to KUBECONFIG), or add it to your kubeconfig with --merge',
    )
    .requiredOption('--cluster <cluster>', 'cluster scope in the policy, e.g. prod (also the kubeconfig names)')
    .requiredOption('--server <url>', 'kube-apiserver URL, e.g. https://kube-api:6443')
    .option('--certificate-authority <file>', "PEM of the CA that signed the apiserver's serving certificate (embedded)")
    .option('--ttl <duration>', 'certificate lifetime the plugin asks for, e.g. 30m')
    .option('--client-config <file>', 'helper configuration the plugin should use (default: its own default)')
    .option('--namespace <namespace>', 'default namespace of the context')
    .option('--operation <operation>', 'operation the plugin asks for: view-logs, view-config, exec, debug, port-forward (repeatable; named in the context, e.g. jitca-prod-exec)', collect)
    .option('--command <path>', 'plugin command kubectl runs (default: this jitca, absolute path)')
    .option('--output <format>', 'yaml or json', 'yaml')
    .option('--merge', "add the cluster, user and context to the kubeconfig kubectl writes to ($KUBECONFIG's first existing file, else ~/.kube/config), keeping what is there, after a backup")
    .option('--kubeconfig <file>', 'with --merge: this kubeconfig instead')
    .action((options: KubeconfigCliOptions) => {
      if (options.output !== 'yaml' && options.output !== 'json') {
        throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--output must be yaml or json, not ${JSON.stringify(options.output.slice(0, 20))}`);
      }
      if (options.kubeconfig !== undefined && options.merge !== true) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--kubeconfig names the file --merge writes; add --merge');
      const kubeconfig = buildKubeconfig({
        cluster: options.cluster,
        server: options.server,
        certificateAuthorityPem: options.certificateAuthority === undefined ? undefined : readCertificateAuthority(options.certificateAuthority),
        ttl: options.ttl,
        // kubectl runs the plugin from wherever the engineer is: relative paths would break.
        clientConfigFile: options.clientConfig === undefined ? undefined : path.resolve(options.clientConfig),
        namespace: options.namespace,
        operations: options.operation,
        command: options.command ?? ownCommand(),
      });
      if (options.merge === true) {
        const target = kubeconfigWriteTarget(options.kubeconfig, { KUBECONFIG: process.env['KUBECONFIG'], HOME: process.env['HOME'] });
        const { file, backup } = mergeIntoKubeconfigFile(target, kubeconfig);
        const context = kubeconfig['current-context'];
        process.stderr.write(`jitca: added context ${context} to ${file}${backup === undefined ? '' : ` (the previous file is ${backup})`}; use it with kubectl --context ${context}\n`);
        return;
      }
      process.stdout.write(options.output === 'json' ? `${JSON.stringify(kubeconfig, null, 2)}\n` : toYaml(kubeconfig));
    });
}

function readCertificateAuthority(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `cannot read certificate authority file ${file}`, { cause: error });
  }
}
