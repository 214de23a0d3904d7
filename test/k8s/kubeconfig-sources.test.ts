import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, JitcaError } from '../../src/errors.ts';
import { createKubeConfig } from '../../src/k8s/kube-client.ts';
import { SERVICE_ACCOUNT_TOKEN_PATH, chooseKubeConnection, type KubeConnectionEnvironment } from '../../src/k8s/kubeconfig-sources.ts';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof JitcaError ? error.code : `not a JitcaError: ${String(error)}`;
  }
  return undefined;
}

describe('chooseKubeConnection follows kubectl: --kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster', () => {
  const home = '/home/op';
  const homeConfig = '/home/op/.kube/config';
  const pod: KubeConnectionEnvironment = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
  /** Which files "exist" in each case. */
  const existing = (...files: string[]) => (file: string) => files.includes(file);

  it('takes --in-cluster, then --kubeconfig, over the environment', () => {
    const env = { KUBECONFIG: '/etc/a', HOME: home };
    const all = existing('/etc/a', homeConfig, '/flag');
    expect(chooseKubeConnection({ inCluster: true, kubeconfig: '/flag' }, env, all)).toEqual({ kind: 'in-cluster' });
    expect(chooseKubeConnection({ kubeconfig: '/flag', context: 'ops' }, env, all)).toEqual({ kind: 'kubeconfig', paths: ['/flag'], context: 'ops' });
    // Named explicitly, a missing file is not skipped: loading it fails, as kubectl's does.
    expect(chooseKubeConnection({ kubeconfig: '/missing' }, env, all)).toEqual({ kind: 'kubeconfig', paths: ['/missing'] });
  });

  it('takes every existing file of $KUBECONFIG in order, skipping empty entries, repeats and missing files, and then not ~/.kube/config', () => {
    const env = { KUBECONFIG: `/etc/a${path.delimiter}${path.delimiter}/missing${path.delimiter}/etc/b${path.delimiter}/etc/a`, HOME: home };
    expect(chooseKubeConnection({ context: 'ops' }, env, existing('/etc/a', '/etc/b', homeConfig))).toEqual({ kind: 'kubeconfig', paths: ['/etc/a', '/etc/b'], context: 'ops' });
  });

  it('uses ~/.kube/config when $KUBECONFIG is unset or empty', () => {
    expect(chooseKubeConnection({}, { HOME: home }, existing(homeConfig))).toEqual({ kind: 'kubeconfig', paths: [homeConfig] });
    expect(chooseKubeConnection({}, { HOME: home, KUBECONFIG: '' }, existing(homeConfig))).toEqual({ kind: 'kubeconfig', paths: [homeConfig] });
  });

  it('falls back to the service account in a pod when no file is found (also when $KUBECONFIG names only missing files)', () => {
    expect(chooseKubeConnection({}, { HOME: home, ...pod }, existing(SERVICE_ACCOUNT_TOKEN_PATH))).toEqual({ kind: 'in-cluster' });
    expect(chooseKubeConnection({}, { KUBECONFIG: '/missing', HOME: home, ...pod }, existing(SERVICE_ACCOUNT_TOKEN_PATH, homeConfig))).toEqual({ kind: 'in-cluster' });
  });

  it('refuses with ERR_CONFIG_INVALID when there is nothing at all', () => {
    expect(codeOf(() => chooseKubeConnection({}, { HOME: home }, existing()))).toBe(ErrorCodes.CONFIG_INVALID);
    expect(codeOf(() => chooseKubeConnection({}, {}, existing()))).toBe(ErrorCodes.CONFIG_INVALID);
    // The variables without the token file: not a pod.
    expect(codeOf(() => chooseKubeConnection({}, { KUBECONFIG: '/missing', ...pod }, existing()))).toBe(ErrorCodes.CONFIG_INVALID);
  });
});

describe('several kubeconfig files merge as kubectl merges them', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'jitca-kubeconfigs-'));
    mkdirSync(path.join(dir, 'second'));
    writeFileSync(path.join(dir, 'second', 'ca.pem'), 'not read until a request is made');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, config: Record<string, unknown>): string {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [], ...config }));
    return file;
  }

  it('keeps the first file’s definition of a name and the first current-context set, resolving paths per file', () => {
    const first = write('first', {
      clusters: [{ name: 'shared', cluster: { server: 'https://first.example:6443' } }],
      users: [{ name: 'ops', user: { token: 'first-token' } }],
      contexts: [{ name: 'one', context: { cluster: 'shared', user: 'ops' } }],
    });
    const second = write(path.join('second', 'config'), {
      clusters: [
        { name: 'shared', cluster: { server: 'https://second.example:6443' } },
        { name: 'own', cluster: { server: 'https://own.example:6443', 'certificate-authority': 'ca.pem' } },
      ],
      users: [{ name: 'ops', user: { token: 'second-token' } }],
      contexts: [{ name: 'two', context: { cluster: 'own', user: 'ops' } }],
      'current-context': 'two',
    });
    const third = write('third', { contexts: [{ name: 'three', context: { cluster: 'shared', user: 'ops' } }], 'current-context': 'one' });

    const merged = createKubeConfig({ kind: 'kubeconfig', paths: [first, second, third] });
    expect(merged.getCurrentContext()).toBe('two');
    expect(merged.getCurrentCluster()).toMatchObject({ name: 'own', server: 'https://own.example:6443', caFile: path.join(dir, 'second', 'ca.pem') });
    expect(merged.getCurrentUser()).toMatchObject({ name: 'ops', token: 'first-token' });
    expect(merged.getCluster('shared')?.server).toBe('https://first.example:6443');
    expect(merged.getContexts().map((context) => context.name)).toEqual(['one', 'two', 'three']);

    const chosen = createKubeConfig({ kind: 'kubeconfig', paths: [first, second, third], context: 'one' });
    expect(chosen.getCurrentCluster()?.server).toBe('https://first.example:6443');
  });

  it('names the file that does not load, never its content', () => {
    const broken = path.join(dir, 'broken');
    writeFileSync(broken, 'users: [ { name: x, user: { token: secret-token-123 } }');
    let error: unknown;
    try {
      createKubeConfig({ kind: 'kubeconfig', paths: [broken] });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(JitcaError);
    expect((error as JitcaError).code).toBe(ErrorCodes.CONFIG_INVALID);
    expect((error as JitcaError).message).toContain(broken);
    expect((error as JitcaError).message).not.toContain('secret-token-123');
  });
});
