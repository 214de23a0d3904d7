/**
 * `jitca kubeconfig --merge`: adds jitca's cluster, user and context to the kubeconfig kubectl
 * would write to, keeping everything already there (other entries, unknown fields, comments),
 * instead of `>> ~/.kube/config`, which leaves a second YAML document that kubectl ignores or
 * a file where only the new context remains.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { isMap, isSeq, parseDocument } from 'yaml';
import { writeFileAtomic } from '../atomic-file.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Kubeconfig } from './kubeconfig.ts';
import { toYaml } from './kubeconfig-yaml.ts';

export interface KubeconfigEnvironment {
  KUBECONFIG?: string;
  HOME?: string;
}

/**
 * The file kubectl writes a new context to (client-go clientcmd PathOptions.GetDefaultFilename):
 * --kubeconfig; else with $KUBECONFIG one file, that file; several, the first that exists, or
 * the last when none does; else ~/.kube/config. (Reading merges the whole list; that is
 * src/k8s/kubeconfig-sources.ts.)
 */
export function kubeconfigWriteTarget(explicit: string | undefined, env: KubeconfigEnvironment, exists: (file: string) => boolean = existsSync): string {
  if (explicit !== undefined) return explicit;
  const listed = (env.KUBECONFIG ?? '').split(path.delimiter).filter((file) => file !== '');
  if (listed.length > 0) return listed.find((file) => exists(file)) ?? listed.at(-1)!;
  if (env.HOME === undefined || env.HOME === '') {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'cannot find the kubeconfig to merge into: neither $KUBECONFIG nor $HOME is set; name it with --kubeconfig');
  }
  return path.join(env.HOME, '.kube', 'config');
}

/**
 * `existing` with `ours`'s cluster, user and context added, or put in place of the entries of the
 * same name (running it again updates them). current-context is set only when there is none: a
 * merge never moves someone's next kubectl command to another cluster.
 * Errors: ERR_CONFIG_INVALID when `existing` is not a kubeconfig; ERR_REQUEST_INVALID when it has
 * a cluster of our name with another server (that name is someone else's cluster).
 */
export function mergeKubeconfigText(existing: string, ours: Kubeconfig, file: string): string {
  const doc = parseDocument(existing);
  if (doc.errors.length > 0) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `kubeconfig ${file} is not valid YAML (${doc.errors[0]!.code}); left it as it is`);
  }
  // An empty file (or only comments): ours is the whole kubeconfig.
  if (doc.contents === null) return toYaml(ours);
  if (!isMap(doc.contents)) throw new JitcaError(ErrorCodes.CONFIG_INVALID, `kubeconfig ${file} is not a YAML mapping; left it as it is`);
  if (!doc.has('apiVersion')) doc.set('apiVersion', ours.apiVersion);
  if (!doc.has('kind')) doc.set('kind', ours.kind);
  const entries: Array<[string, { name: string }]> = [
    ['clusters', ours.clusters[0]!],
    ['users', ours.users[0]!],
    ['contexts', ours.contexts[0]!],
  ];
  for (const [section, entry] of entries) {
    // kubectl writes "clusters: null" for an empty list.
    if (doc.get(section) === null || doc.get(section) === undefined) doc.set(section, doc.createNode([]));
    const list = doc.get(section);
    if (!isSeq(list)) throw new JitcaError(ErrorCodes.CONFIG_INVALID, `kubeconfig ${file}: ${section} is not a list; left it as it is`);
    const index = list.items.findIndex((item) => isMap(item) && item.get('name') === entry.name);
    if (index >= 0 && section === 'clusters') {
      const present = (list.items[index] as { getIn(path: string[]): unknown }).getIn(['cluster', 'server']);
      const wanted = (entry as Kubeconfig['clusters'][number]).cluster.server;
      if (present !== wanted) {
        throw new JitcaError(
          ErrorCodes.REQUEST_INVALID,
          `kubeconfig ${file} already has a cluster "${entry.name}" with server ${JSON.stringify(String(present)).slice(0, 200)}, not ${wanted}; left it as it is: print a separate file instead (without --merge)`,
        );
      }
    }
    const node = doc.createNode(entry);
    if (index >= 0) list.items[index] = node;
    else list.items.push(node);
  }
  const current = doc.get('current-context');
  if (typeof current !== 'string' || current === '') doc.set('current-context', ours['current-context']);
  return doc.toString();
}

export interface MergeOutcome {
  file: string;
  /** The file as it was, copied before the change; absent when there was no file. */
  backup?: string;
}

/**
 * Merges into `file` atomically (a reader sees the old file or the new), after copying it to a
 * backup, under kubectl's own lock (`<file>.lock`, created exclusively, as client-go's
 * clientcmd.ModifyConfig does), so a concurrent kubectl config write is not lost. A kubeconfig
 * holds credentials: the file keeps its mode, a new one is 0600 in a 0700 directory.
 */
export function mergeIntoKubeconfigFile(target: string, ours: Kubeconfig, now: Date = new Date()): MergeOutcome {
  const file = existsSync(target) ? realpathSync(target) : target;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const lock = `${file}.lock`;
  try {
    closeSync(openSync(lock, 'wx', 0o600));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new JitcaError(
      ErrorCodes.REQUEST_INVALID,
      code === 'EEXIST' ? `kubeconfig ${file} is locked (${lock} exists): another kubectl or jitca is writing it; try again, or remove the lock if nothing is` : `cannot lock kubeconfig ${file} (${code ?? 'error'})`,
      { cause: error },
    );
  }
  try {
    const present = existsSync(file);
    const existing = present ? readFileSync(file, 'utf8') : '';
    const merged = mergeKubeconfigText(existing, ours, file);
    if (!present) {
      writeFileAtomic(file, merged, 0o600);
      return { file };
    }
    const mode = statSync(file).mode & 0o777;
    const backup = `${file}.jitca-backup-${now.toISOString().replace(/[-:]|\.\d+/g, '')}`;
    copyFileSync(file, backup);
    writeFileAtomic(file, merged, mode);
    return { file, backup };
  } finally {
    rmSync(lock, { force: true });
  }
}
