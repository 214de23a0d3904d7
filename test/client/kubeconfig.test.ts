import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildKubeconfig, type KubeconfigParams } from '../../src/client/kubeconfig.ts';
import { toYaml } from '../../src/client/kubeconfig-yaml.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { codeOf } from '../support/error-codes.ts';

const KUBECTL = '/usr/bin/kubectl';
const work = mkdtempSync(path.join(tmpdir(), 'jitca-kubeconfig-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const servingCa = (() => {
  const key = path.join(work, 'ca.key');
  const cert = path.join(work, 'ca.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=kube-api', '-days', '1'], { stdio: 'ignore' });
  return execFileSync('cat', [cert], { encoding: 'utf8' });
})();

const base: KubeconfigParams = {
  cluster: 'prod',
  server: 'https://kube-api:6443',
  certificateAuthorityPem: servingCa,
  ttl: '30m',
  command: '/opt/jitca/bin/jitca',
};

/** What the real kubectl makes of a file: `kubectl config view --raw -o json`. */
function kubectlView(text: string, name: string): Record<string, unknown> {
  const file = path.join(work, name);
  writeFileSync(file, text);
  return JSON.parse(execFileSync(KUBECTL, ['config', 'view', '--raw', '-o', 'json', '--kubeconfig', file], { encoding: 'utf8', env: { ...process.env, HOME: work } })) as Record<string, unknown>;
}

describe('jitca kubeconfig --operation', () => {
  it('passes each operation to the plugin once and names the context after them', () => {
    const config = buildKubeconfig({ ...base, operations: ['exec', 'view-logs', 'exec'] });
    expect(config.users[0]?.user.exec.args).toEqual(['kube-credential', '--cluster', 'prod', '--ttl', '30m', '--operation', 'exec', '--operation', 'view-logs']);
    expect(config['current-context']).toBe('jitca-prod-exec-view-logs');
    expect(config.contexts[0]).toMatchObject({ name: 'jitca-prod-exec-view-logs', context: { user: 'jitca-prod-exec-view-logs', cluster: 'prod' } });
    // What kubectl reads back: the same exec arguments.
    const view = kubectlView(toYaml(config), 'operations.yaml') as { users: Array<{ user: { exec: { args: string[] } } }> };
    expect(view.users[0]?.user.exec.args).toContain('--operation');
  });

  it('refuses an operation that is not one of the matrix, before writing anything', () => {
    expect(codeOf(() => buildKubeconfig({ ...base, operations: ['exec; rm -rf /'] }))).toBe(ErrorCodes.REQUEST_INVALID);
  });
});

describe('jitca kubeconfig', () => {
  it('has an exec user running `jitca kube-credential` for the cluster, and a context using it', () => {
    const config = buildKubeconfig({ ...base, clientConfigFile: '/home/alice/.config/jitca/client.json', namespace: 'payments' });
    expect(config.users).toEqual([
      {
        name: 'jitca-prod',
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: '/opt/jitca/bin/jitca',
            args: ['kube-credential', '--cluster', 'prod', '--ttl', '30m', '--client-config', '/home/alice/.config/jitca/client.json'],
            interactiveMode: 'Never',
            provideClusterInfo: false,
            installHint: expect.stringMatching(/jitca kubeconfig/) as unknown as string,
          },
        },
      },
    ]);
    expect(config.contexts).toEqual([{ name: 'jitca-prod', context: { cluster: 'prod', user: 'jitca-prod', namespace: 'payments' } }]);
    expect(config['current-context']).toBe('jitca-prod');
    expect(Buffer.from(config.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64').toString()).toBe(servingCa);
  });

  it('leaves --ttl and --client-config out when not given (the role default and the default config apply)', () => {
    const config = buildKubeconfig({ cluster: 'prod', server: 'https://kube-api:6443', command: 'jitca' });
    expect(config.users[0]?.user.exec.args).toEqual(['kube-credential', '--cluster', 'prod']);
    expect(config.clusters[0]?.cluster).toEqual({ server: 'https://kube-api:6443' });
  });

  it('prints YAML that kubectl reads exactly as the JSON form', () => {
    const config = buildKubeconfig({ ...base, clientConfigFile: '/tmp/odd: "dir" #1/yes', namespace: 'payments' });
    const fromYaml = kubectlView(toYaml(config), 'config.yaml');
    const fromJson = kubectlView(JSON.stringify(config), 'config.json');
    expect(fromYaml).toEqual(fromJson);
    expect(fromYaml).toMatchObject({
      'current-context': 'jitca-prod',
      users: [{ name: 'jitca-prod', user: { exec: { command: '/opt/jitca/bin/jitca', args: config.users[0]?.user.exec.args, interactiveMode: 'Never' } } }],
      clusters: [{ name: 'prod', cluster: { server: 'https://kube-api:6443' } }],
    });
  });

  it.each([
    ['an http:// server (no client certificate over plain HTTP)', { server: 'http://kube-api:8080' }, ErrorCodes.REQUEST_INVALID],
    ['a server that is not a URL', { server: 'kube-api:6443' }, ErrorCodes.REQUEST_INVALID],
    ['a CA file without a certificate', { certificateAuthorityPem: 'hello' }, ErrorCodes.REQUEST_INVALID],
    ['a CA block that does not parse', { certificateAuthorityPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, ErrorCodes.REQUEST_INVALID],
    ['a ttl in words', { ttl: '30 minutes' }, ErrorCodes.TTL_INVALID],
    ['a cluster name with a slash', { cluster: 'prod/eu' }, ErrorCodes.REQUEST_INVALID],
  ])('refuses %s', (_what, change, code) => {
    expect(codeOf(() => buildKubeconfig({ ...base, ...change }))).toBe(code);
  });
});
