/**
 * deploy/kubernetes-ha: several replicas on PostgreSQL and a network HSM. The manifests are JSON,
 * parsed here without a YAML library, and checked for what kubectl apply would not catch: names,
 * labels and selectors that point at each other, mounts that hold the files config.example.json
 * names, the Secrets and ConfigMap the README tells an operator to create, probes on the API's
 * health routes, and a Lease Role that lets the controller do what client-go's election needs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config.ts';
import { CONTROLLER_USER } from '../support/kube-csr-harness.ts';
import { DEPLOY_DIR, DEPLOY_HA_DIR, roleAllows, roleRules } from '../support/kube-rbac.ts';
import type { AuthorizationQuestion } from '../support/kube-api-double.ts';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}
interface Container {
  name: string;
  args: string[];
  ports?: Array<{ name: string; containerPort: number }>;
  env?: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  readinessProbe?: { httpGet: { path: string; port: string; scheme: string } };
  livenessProbe?: { httpGet: { path: string; port: string; scheme: string } };
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
interface Volume {
  name: string;
  secret?: { secretName: string };
  configMap?: { name: string };
  emptyDir?: unknown;
}
interface Deployment extends K8sObject {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: { serviceAccountName: string; containers: Container[]; volumes: Volume[] } };
  };
}

const EXAMPLE_CONFIG = 'config.example.json';
/** What the operator creates (README): never shipped, only referenced. */
const EXTERNAL = { secrets: ['jitca-config', 'jitca-hsm-pin', 'jitca-serve-tls'], configMaps: ['jitca-policy'] };

function manifestFiles(dir: string): string[] {
  return readdirSync(dir).filter((file) => file.endsWith('.json') && file !== EXAMPLE_CONFIG);
}
const read = (dir: string, file: string): K8sObject => JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as K8sObject;
const objects = (): K8sObject[] => manifestFiles(DEPLOY_HA_DIR).map((file) => read(DEPLOY_HA_DIR, file));

function find<T extends K8sObject = K8sObject>(kind: string, name: string): T {
  const object = objects().find((candidate) => candidate.kind === kind && candidate.metadata.name === name);
  if (object === undefined) throw new Error(`no ${kind} ${name}`);
  return object as T;
}

const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

const serve = (): Deployment => find<Deployment>('Deployment', 'jitca-serve');
const controller = (): Deployment => find<Deployment>('Deployment', 'jitca-csr-controller');
const example = () => buildConfig({ configFile: path.join(DEPLOY_HA_DIR, EXAMPLE_CONFIG), dataDir: '/var/lib/jitca' });

/** The file `args` gives as --config, and the container's mount that holds `file`. */
function mountHolding(container: Container, file: string): string | undefined {
  return container.volumeMounts.find((mount) => file.startsWith(`${mount.mountPath}/`))?.name;
}

describe('deploy/kubernetes-ha', () => {
  it('every manifest parses, the kustomization lists each one, and kubectl kustomize renders them', () => {
    const all = objects();
    expect(all).toHaveLength(12);
    for (const object of all) {
      expect(object.metadata.name).toMatch(/^[a-z0-9:.-]+$/);
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(object.kind)) expect(object.metadata.namespace).toBe('jitca');
    }
    const kustomization = JSON.parse(readFileSync(path.join(DEPLOY_HA_DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual(manifestFiles(DEPLOY_HA_DIR).sort());
    const kubectl = spawnSync('kubectl', ['kustomize', DEPLOY_HA_DIR], { encoding: 'utf8' });
    if (kubectl.error !== undefined) return; // kubectl not installed here
    expect(kubectl.status).toBe(0);
    expect(kubectl.stdout.match(/^kind: /gm)).toHaveLength(12);
  });

  it('shares the namespace, the controller ServiceAccount and its ClusterRole (and binding) with deploy/kubernetes unchanged', () => {
    for (const file of ['namespace.json', 'serviceaccount.json', 'clusterrole-csr-controller.json', 'clusterrolebinding-csr-controller.json']) {
      expect(read(DEPLOY_HA_DIR, file), file).toEqual(read(DEPLOY_DIR, file));
    }
  });

  it('runs 3 API replicas and 2 controller replicas, each selecting its own pods only, under a ServiceAccount that exists', () => {
    expect(serve().spec.replicas).toBe(3);
    expect(controller().spec.replicas).toBe(2);
    for (const deployment of [serve(), controller()]) {
      const { selector, template } = deployment.spec;
      expect(selects(selector.matchLabels, template.metadata.labels)).toBe(true);
      expect(find('ServiceAccount', template.spec.serviceAccountName).metadata.namespace).toBe(deployment.metadata.namespace);
    }
    expect(selects(serve().spec.selector.matchLabels, controller().spec.template.metadata.labels)).toBe(false);
    expect(selects(controller().spec.selector.matchLabels, serve().spec.template.metadata.labels)).toBe(false);
  });

  it('keeps 2 of the 3 API replicas through a drain, and one controller', () => {
    const budget = find<K8sObject & { spec: { minAvailable?: number; maxUnavailable?: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget', 'jitca-serve');
    expect(budget.spec.selector.matchLabels).toEqual(serve().spec.selector.matchLabels);
    expect(budget.spec.minAvailable).toBe(2);
    expect(budget.spec.minAvailable).toBeLessThan(serve().spec.replicas);
    expect(selects(budget.spec.selector.matchLabels, controller().spec.template.metadata.labels)).toBe(false);
    const controllerBudget = find<K8sObject & { spec: { maxUnavailable?: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget', 'jitca-csr-controller');
    expect(controllerBudget.spec.selector.matchLabels).toEqual(controller().spec.selector.matchLabels);
    expect(controllerBudget.spec.maxUnavailable).toBe(1);
  });

  it('the Service and the probes reach the API port; readiness is /readyz (HSM signs, database commits), liveness /healthz', () => {
    const [container] = serve().spec.template.spec.containers;
    if (container === undefined) throw new Error('no container');
    const port = container.ports?.find((candidate) => candidate.name === 'https');
    expect(port?.containerPort).toBe(example().server.port);
    const service = find<K8sObject & { spec: { selector: Record<string, string>; ports: Array<{ targetPort: string }> } }>('Service', 'jitca');
    expect(service.spec.selector).toEqual(serve().spec.selector.matchLabels);
    expect(service.spec.ports.map((entry) => entry.targetPort)).toEqual(['https']);
    const health = readFileSync(path.resolve(import.meta.dirname, '../../src/api/health.ts'), 'utf8');
    // TLS is configured in the example, so the kubelet must probe over HTTPS.
    expect(example().server.tls).toBeDefined();
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
    expect(health).toContain("app.get('/readyz'");
    expect(health).toContain("app.get('/healthz'");
  });

  it('mounts every file the example config names, takes the PIN from a Secret under the name hsm.pinEnv gives, and references only the Secrets and ConfigMap the README lists', () => {
    const config = example();
    const readme = readFileSync(path.join(DEPLOY_HA_DIR, 'README.md'), 'utf8');
    for (const name of [...EXTERNAL.secrets, ...EXTERNAL.configMaps]) expect(readme).toContain(`\`${name}\``);
    expect(config.store.postgresUrl).toMatch(/^postgres:\/\//);
    expect(config.hsm.modulePath).toBeDefined();
    for (const deployment of [serve(), controller()]) {
      const { containers, volumes } = deployment.spec.template.spec;
      for (const container of containers) {
        const files = [container.args[container.args.indexOf('--config') + 1] ?? '', config.policyFile];
        if (deployment === serve()) files.push(config.server.tls?.certFile ?? '', config.server.tls?.keyFile ?? '');
        for (const file of files) {
          const volume = volumes.find((candidate) => candidate.name === mountHolding(container, file));
          expect(volume?.secret ?? volume?.configMap, `${deployment.metadata.name}: ${file}`).toBeDefined();
        }
        expect(container.args[container.args.indexOf('--data-dir') + 1]).toBe(config.dataDir);
        for (const mount of container.volumeMounts) expect(volumes.map((volume) => volume.name)).toContain(mount.name);
        const pin = container.env?.find((entry) => entry.name === config.hsm.pinEnv);
        expect(pin?.valueFrom?.secretKeyRef?.name).toBe('jitca-hsm-pin');
        for (const entry of container.env ?? []) if (entry.valueFrom?.secretKeyRef !== undefined) expect(EXTERNAL.secrets).toContain(entry.valueFrom.secretKeyRef.name);
      }
      for (const volume of volumes) {
        if (volume.secret !== undefined) expect(EXTERNAL.secrets).toContain(volume.secret.secretName);
        if (volume.configMap !== undefined) expect(EXTERNAL.configMaps).toContain(volume.configMap.name);
      }
    }
    // The database password is in the config file, so the config file is a Secret.
    const configVolume = serve().spec.template.spec.volumes.find((volume) => volume.name === 'config');
    expect(configVolume?.secret?.secretName).toBe('jitca-config');
  });

  it("lets the controller's ServiceAccount, and only it, take, read and renew its Lease, in the namespace the config names", () => {
    const config = example();
    const args = controller().spec.template.spec.containers[0]?.args ?? [];
    expect(args[args.indexOf('--leader-elect') + 1]).toBe('kubernetes-lease');
    // Its /metrics on the port the container declares and the liveness probe asks.
    const container = controller().spec.template.spec.containers[0] as unknown as { ports: Array<{ name: string; containerPort: number }>; livenessProbe: { httpGet: { path: string; port: string } } };
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: Number(args[args.indexOf('--metrics-port') + 1]) }]);
    expect(args[args.indexOf('--metrics-address') + 1]).toBe('0.0.0.0');
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(config.kubernetes.leaderElection).toBe('kubernetes-lease');
    const binding = find<K8sObject & { roleRef: { kind: string; name: string }; subjects: Array<{ kind: string; name: string; namespace: string }> }>('RoleBinding', 'jitca-leader-election');
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: 'jitca-leader-election' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: controller().spec.template.spec.serviceAccountName, namespace: 'jitca' }]);
    expect(CONTROLLER_USER).toBe(`system:serviceaccount:jitca:${controller().spec.template.spec.serviceAccountName}`);

    const role = roleRules('role-leader-election.json', binding.roleRef.name);
    expect(role.namespace).toBe(config.kubernetes.leaseNamespace);
    const may = (question: Omit<AuthorizationQuestion, 'user' | 'resource'>): boolean =>
      roleAllows(role, { user: { username: CONTROLLER_USER, groups: [] }, resource: 'leases', ...question });
    const lease = { namespace: config.kubernetes.leaseNamespace, name: config.kubernetes.leaseName };
    // What kubernetes-lease.ts calls: read, create (no name is known to RBAC at create), replace.
    expect(may({ verb: 'get', ...lease })).toBe(true);
    expect(may({ verb: 'update', ...lease })).toBe(true);
    expect(may({ verb: 'create', namespace: lease.namespace })).toBe(true);
    // Nothing else: no other Lease (kube-system's, another component's), no delete, list or watch.
    expect(may({ verb: 'update', namespace: lease.namespace, name: 'kube-scheduler' })).toBe(false);
    expect(may({ verb: 'update', namespace: 'kube-system', name: lease.name })).toBe(false);
    expect(may({ verb: 'delete', ...lease })).toBe(false);
    expect(may({ verb: 'list', namespace: lease.namespace })).toBe(false);
    expect(may({ verb: 'watch', namespace: lease.namespace })).toBe(false);
    // The API replicas need no Kubernetes API at all: their lease is in PostgreSQL.
    expect(serve().spec.template.spec).toMatchObject({ automountServiceAccountToken: false });
    const bindings = objects().filter((object) => object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding') as Array<K8sObject & { subjects: Array<{ name: string }> }>;
    expect(bindings.flatMap((entry) => entry.subjects.map((subject) => subject.name))).not.toContain('jitca-serve');
  });
});
