/**
 * deploy/gateway: the SSH gateway as an on-demand pod. The manifests must line up with each other
 * and with the files sshd and the session command use: every path the session wrapper and
 * sshd_config name is mounted where they look, the pod holds no Kubernetes rights or token, the
 * NetworkPolicy admits only SSH in and only jitca, the API server and DNS out, and the real sshd
 * accepts the configuration as the container starts it. Rendered by the real `kubectl kustomize`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = path.resolve(import.meta.dirname, '../../deploy/gateway');
const DEPLOY = path.resolve(import.meta.dirname, '../../deploy');

interface Mount {
  name: string;
  mountPath: string;
  subPath?: string;
}
interface Container {
  name: string;
  command: string[];
  ports?: Array<{ name: string; containerPort: number }>;
  volumeMounts: Mount[];
  securityContext: { runAsUser?: number; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
}

const json = <T>(file: string): T => JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as T;
const deployment = json<{ spec: { replicas: number; template: { spec: { serviceAccountName: string; automountServiceAccountToken: boolean; initContainers: Container[]; containers: Container[]; volumes: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string } }> } } } }>('deployment.json');
const pod = deployment.spec.template.spec;
const sshd = pod.containers.find((container) => container.name === 'sshd')!;
const trustSync = pod.containers.find((container) => container.name === 'trust-sync')!;
const sshdConfig = readFileSync(path.join(DIR, 'sshd_config'), 'utf8');
const session = readFileSync(path.join(DIR, 'jitca-session'), 'utf8');

/** The value after `--flag` in a command line (the session wrapper's or the principals command's). */
function flag(text: string, name: string): string {
  const match = new RegExp(`--${name} (\\S+)`).exec(text);
  if (match === null) throw new Error(`no --${name}`);
  return match[1]!;
}
function directive(name: string): string {
  const match = new RegExp(`^${name} (.+)$`, 'm').exec(sshdConfig);
  if (match === null) throw new Error(`no ${name}`);
  return match[1]!;
}
/** The mount of `container` that holds `file`, or undefined. */
function mountOf(container: Container, file: string): Mount | undefined {
  return container.volumeMounts.find((mount) => (mount.subPath === undefined ? file.startsWith(`${mount.mountPath}/`) || file === mount.mountPath : file === mount.mountPath));
}

describe('deploy/gateway', () => {
  it('every manifest parses, the kustomization lists each one, and kubectl kustomize renders them with the sshd files as they are', () => {
    const kustomization = json<{ resources: string[]; configMapGenerator: Array<{ name: string; files: string[] }> }>('kustomization.yaml');
    expect(readdirSync(DIR).filter((file) => file.endsWith('.json')).sort()).toEqual([...kustomization.resources].sort());
    expect(kustomization.configMapGenerator).toEqual([{ name: 'jitca-gateway-sshd', files: ['sshd_config', 'jitca-session'] }]);
    const rendered = spawnSync('kubectl', ['kustomize', DIR], { encoding: 'utf8' });
    expect(rendered.status, rendered.stderr).toBe(0);
    expect(rendered.stdout.match(/^kind: (\w+)$/gm)?.sort()).toEqual(['kind: ConfigMap', 'kind: Deployment', 'kind: NetworkPolicy', 'kind: Service', 'kind: ServiceAccount']);
    // The generated ConfigMap's hashed name is what the Deployment mounts.
    const name = /^ {2}name: (jitca-gateway-sshd-\w+)$/m.exec(rendered.stdout)?.[1];
    expect(name).toBeDefined();
    expect(rendered.stdout.match(new RegExp(`name: ${name}$`, 'gm'))).toHaveLength(3);
  });

  it('is on demand, and holds no Kubernetes rights of its own: no token mounted, and no binding anywhere names its ServiceAccount', () => {
    expect(deployment.spec.replicas).toBe(0);
    const account = json<{ metadata: { name: string }; automountServiceAccountToken: boolean }>('serviceaccount.json');
    expect(pod.serviceAccountName).toBe(account.metadata.name);
    expect([account.automountServiceAccountToken, pod.automountServiceAccountToken]).toEqual([false, false]);
    const bindings = readdirSync(DEPLOY, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
      .map((entry) => JSON.parse(readFileSync(path.join(entry.parentPath, entry.name), 'utf8')) as { kind?: string; subjects?: Array<{ name: string }> })
      .filter((object) => object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding');
    expect(bindings.length).toBeGreaterThan(0);
    expect(bindings.flatMap((binding) => binding.subjects ?? []).map((subject) => subject.name)).not.toContain(account.metadata.name);
  });

  it('mounts every file sshd_config and the session wrapper name where they look for it', () => {
    expect(sshd.command).toEqual(expect.arrayContaining(['-f', '-p', '-o']));
    const configPath = sshd.command[sshd.command.indexOf('-f') + 1]!;
    expect(mountOf(sshd, configPath)?.name).toBe('sshd');
    const hostKey = sshd.command[sshd.command.indexOf('-o') + 1]!.replace(/^HostKey=/, '');
    expect(mountOf(sshd, hostKey)?.name).toBe('host-key');
    // The forced command sshd runs is the wrapper from the ConfigMap, at the path the principals command names.
    const principalsCommand = directive('AuthorizedPrincipalsCommand');
    expect(mountOf(sshd, flag(principalsCommand, 'session-command'))).toMatchObject({ name: 'session', subPath: 'jitca-session' });
    // One set of trust files: sshd's, the principals command's, the session's, and what trust-sync writes.
    const trustFiles = [directive('TrustedUserCAKeys'), directive('RevokedKeys'), flag(principalsCommand, 'trusted-ca-keys'), flag(principalsCommand, 'revoked-keys'), flag(session, 'revoked-keys')];
    for (const file of trustFiles) expect(mountOf(sshd, file)?.name, file).toBe('trust');
    const syncCommand = trustSync.command.join(' ');
    expect([flag(syncCommand, 'ca-file'), flag(syncCommand, 'krl-file')]).toEqual([directive('TrustedUserCAKeys'), directive('RevokedKeys')]);
    expect(flag(principalsCommand, 'certificate-dir')).toBe(flag(session, 'certificate-dir'));
    for (const name of ['certificate-dir', 'gateway-token-file', 'api-ca-file', 'kube-ca-file', 'recordings-dir']) {
      expect(mountOf(sshd, flag(session, name)), name).toBeDefined();
    }
    expect(flag(syncCommand, 'server-ca')).toBe(flag(session, 'api-ca-file'));
    // Every volume a container mounts exists, and the pinned CA seeds the trust file before sshd starts.
    const volumes = new Set(pod.volumes.map((volume) => volume.name));
    for (const container of [...pod.initContainers, ...pod.containers]) for (const mount of container.volumeMounts) expect(volumes.has(mount.name), mount.name).toBe(true);
    expect(pod.initContainers[0]?.command.join(' ')).toContain(`> ${directive('RevokedKeys')}`);
  });

  it('runs sshd with only the capabilities it needs, and everything else unprivileged, read-only', () => {
    expect(sshd.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(sshd.securityContext.capabilities?.add).not.toContain('NET_BIND_SERVICE');
    expect(sshd.securityContext.capabilities?.add).not.toContain('SYS_ADMIN');
    for (const container of [trustSync, ...pod.initContainers]) {
      expect(container.securityContext).toMatchObject({ runAsUser: 10002, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    }
  });

  it('lets in only SSH from the engineers\' range, and out only to jitca, the API server and DNS', () => {
    const policy = json<{ spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Array<{ from: unknown[]; ports: Array<{ port: number }> }>; egress: Array<{ to?: Array<Record<string, unknown>>; ports: Array<{ port: number }> }> } }>('networkpolicy.json');
    const service = json<{ spec: { selector: Record<string, string>; ports: Array<{ targetPort: string }> } }>('service.json');
    expect(policy.spec.podSelector.matchLabels).toEqual(service.spec.selector);
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const sshPort = sshd.ports?.find((port) => port.name === service.spec.ports[0]?.targetPort)?.containerPort;
    expect(sshd.command[sshd.command.indexOf('-p') + 1]).toBe(String(sshPort));
    expect(policy.spec.ingress).toEqual([{ from: [{ ipBlock: { cidr: '10.20.0.0/16' } }], ports: [{ protocol: 'TCP', port: sshPort }] }]);
    // No rule without a destination (that would allow everything), and the jitca rule on serve's port.
    for (const rule of policy.spec.egress) expect(rule.to?.length).toBeGreaterThan(0);
    const serve = JSON.parse(readFileSync(path.join(DEPLOY, 'kubernetes-ha/deployment-serve.json'), 'utf8')) as { spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: Array<{ ports: Array<{ containerPort: number }> }> } } } };
    const toServe = policy.spec.egress.find((rule) => JSON.stringify(rule.to).includes('"serve"'));
    expect(toServe?.to?.[0]).toEqual({ podSelector: { matchLabels: serve.spec.template.metadata.labels } });
    expect(toServe?.ports.map((port) => port.port)).toEqual([serve.spec.template.spec.containers[0]!.ports[0]!.containerPort]);
    expect(policy.spec.egress).toHaveLength(3);
  });

  it('the real sshd accepts the configuration as the container starts it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jitca-gateway-deploy-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host')]);
      const args = ['-t', '-f', path.join(DIR, 'sshd_config'), '-p', sshd.command[sshd.command.indexOf('-p') + 1]!, '-o', `HostKey=${path.join(dir, 'host')}`];
      const checked = spawnSync('/usr/sbin/sshd', args, { encoding: 'utf8' });
      expect(checked.status, checked.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
