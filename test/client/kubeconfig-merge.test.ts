import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeconfigWriteTarget } from '../../src/client/kubeconfig-merge.ts';

const KUBECTL = '/usr/bin/kubectl';
const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');
const work = mkdtempSync(path.join(tmpdir(), 'jitca-kubeconfig-merge-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let homes = 0;
/** A fresh $HOME whose ~/.kube/config kubectl itself wrote: one cluster, a token user, a context in use. */
function homeWithKubeconfig(): { home: string; config: string; env: NodeJS.ProcessEnv } {
  const home = path.join(work, `home-${++homes}`);
  mkdirSync(home);
  const env = { PATH: process.env['PATH'], HOME: home };
  const kubectl = (...args: string[]) => execFileSync(KUBECTL, args, { env, stdio: 'ignore' });
  kubectl('config', 'set-cluster', 'staging', '--server=https://staging-api:6443');
  kubectl('config', 'set-credentials', 'alice-staging', '--token=existing-token');
  kubectl('config', 'set-context', 'staging', '--cluster=staging', '--user=alice-staging', '--namespace=web');
  kubectl('config', 'use-context', 'staging');
  const config = path.join(home, '.kube', 'config');
  appendFileSync(config, '# kept: a comment the owner wrote\n');
  return { home, config, env };
}

const view = (env: NodeJS.ProcessEnv, file: string) =>
  JSON.parse(execFileSync(KUBECTL, ['config', 'view', '--raw', '-o', 'json', '--kubeconfig', file], { encoding: 'utf8', env })) as {
    clusters: Array<{ name: string; cluster: { server: string } }>;
    users: Array<{ name: string; user: Record<string, unknown> }>;
    contexts: Array<{ name: string; context: Record<string, unknown> }>;
    'current-context': string;
  };

const merge = (env: NodeJS.ProcessEnv, ...extra: string[]) =>
  spawnSync(jitca, ['kubeconfig', '--cluster', 'prod', '--server', 'https://kube-api:6443', '--merge', ...extra], { encoding: 'utf8', env, timeout: 30_000 });

describe('jitca kubeconfig --merge', () => {
  it('adds the context to ~/.kube/config, keeping every entry, the context in use and comments, after a backup; kubectl reads both', () => {
    const { config, env } = homeWithKubeconfig();
    const before = readFileSync(config, 'utf8');
    const result = merge(env);
    expect(result.stderr).toMatch(/^jitca: added context jitca-prod to .*\.kube\/config \(the previous file is .*config\.jitca-backup-\d{8}T\d{6}Z\); use it with kubectl --context jitca-prod\n$/);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('');

    const merged = view(env, config);
    expect(merged.contexts.map((context) => context.name).sort()).toEqual(['jitca-prod', 'staging']);
    expect(merged.clusters.map((cluster) => cluster.name).sort()).toEqual(['prod', 'staging']);
    expect(merged.users.find((user) => user.name === 'alice-staging')?.user).toEqual({ token: 'existing-token' });
    expect(merged.users.find((user) => user.name === 'jitca-prod')?.user).toMatchObject({ exec: { args: ['kube-credential', '--cluster', 'prod'] } });
    expect(merged['current-context']).toBe('staging');
    expect(readFileSync(config, 'utf8')).toContain('# kept: a comment the owner wrote');
    expect(statSync(config).mode & 0o777).toBe(0o600);
    const backups = readdirSync(path.dirname(config)).filter((name) => name.startsWith('config.jitca-backup-'));
    expect(backups).toHaveLength(1);
    expect(readFileSync(path.join(path.dirname(config), backups[0]!), 'utf8')).toBe(before);
    expect(existsSync(`${config}.lock`)).toBe(false);

    // Again: the entries are replaced, not repeated.
    expect(merge(env).status).toBe(0);
    const again = view(env, config);
    expect(again.contexts.map((context) => context.name).sort()).toEqual(['jitca-prod', 'staging']);
    expect(again.users).toHaveLength(2);
  });

  it('what `>> ~/.kube/config` did instead: kubectl loses the existing context', () => {
    const { config, env } = homeWithKubeconfig();
    appendFileSync(config, execFileSync(jitca, ['kubeconfig', '--cluster', 'prod', '--server', 'https://kube-api:6443'], { encoding: 'utf8', env }));
    const appended = spawnSync(KUBECTL, ['config', 'view', '-o', 'json', '--kubeconfig', config], { encoding: 'utf8', env });
    const contexts = appended.status === 0 ? (JSON.parse(appended.stdout) as { contexts: Array<{ name: string }> }).contexts.map((context) => context.name) : [];
    expect(contexts.sort()).not.toEqual(['jitca-prod', 'staging']);
  });

  it('writes where kubectl writes: $KUBECONFIG’s first existing file, else its last; a new file is 0600', () => {
    const { home, env } = homeWithKubeconfig();
    const missing = path.join(home, 'missing.yaml');
    const second = path.join(home, 'second.yaml');
    writeFileSync(second, 'apiVersion: v1\nkind: Config\nclusters: null\ncontexts: null\nusers: null\ncurrent-context: ""\n', { mode: 0o600 });
    expect(merge({ ...env, KUBECONFIG: [missing, second].join(path.delimiter) }).status).toBe(0);
    expect(existsSync(missing)).toBe(false);
    expect(view(env, second)).toMatchObject({ 'current-context': 'jitca-prod', contexts: [{ name: 'jitca-prod' }] });

    const fresh = path.join(home, 'new', 'kubeconfig');
    expect(merge({ ...env, KUBECONFIG: [path.join(home, 'none'), fresh].join(path.delimiter) }).status).toBe(0);
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
    expect(view(env, fresh).contexts.map((context) => context.name)).toEqual(['jitca-prod']);

    expect(kubeconfigWriteTarget(undefined, { KUBECONFIG: '', HOME: '/home/a' }, () => false)).toBe('/home/a/.kube/config');
    expect(kubeconfigWriteTarget('/explicit', { KUBECONFIG: '/x', HOME: '/home/a' })).toBe('/explicit');
  });

  it('refuses, changing nothing, a file that is not a kubeconfig or holds another cluster of the same name', () => {
    const { config, env } = homeWithKubeconfig();
    execFileSync(KUBECTL, ['config', 'set-cluster', 'prod', '--server=https://someone-elses-prod:6443'], { env, stdio: 'ignore' });
    const before = readFileSync(config, 'utf8');
    const clash = merge(env);
    expect(clash.status).toBe(2);
    expect(clash.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: kubeconfig .* already has a cluster "prod" with server "https:\/\/someone-elses-prod:6443"/);
    const broken = path.join(path.dirname(config), 'broken');
    writeFileSync(broken, 'clusters: [unclosed\n');
    const invalid = merge(env, '--kubeconfig', broken);
    expect(invalid.status).toBe(2);
    expect(invalid.stderr).toMatch(/^jitca: ERR_CONFIG_INVALID: kubeconfig .*broken is not valid YAML/);
    expect(readFileSync(config, 'utf8')).toBe(before);
    expect(readFileSync(broken, 'utf8')).toBe('clusters: [unclosed\n');
    expect(readdirSync(path.dirname(config)).filter((name) => name.includes('jitca-backup'))).toEqual([]);
  });
});
