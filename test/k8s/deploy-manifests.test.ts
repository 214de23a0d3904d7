/**
 * deploy/kubernetes is JSON (valid YAML, and kubectl reads .json): parsed here without a YAML
 * library, and rendered by the real `kubectl kustomize` when kubectl is installed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTROLLER_USER } from '../support/kube-csr-harness.ts';
import { DEPLOY_DIR, clusterRoleRules, rbacAllows, type PolicyRule } from '../support/kube-rbac.ts';
import type { AuthorizationQuestion } from '../support/kube-api-double.ts';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

function objects(): K8sObject[] {
  const files = readdirSync(DEPLOY_DIR).filter((file) => file.endsWith('.json'));
  return files.flatMap((file) => {
    const document = JSON.parse(readFileSync(path.join(DEPLOY_DIR, file), 'utf8')) as K8sObject & { items?: K8sObject[] };
    return document.kind === 'List' ? (document.items ?? []) : [document];
  });
}

function find(kind: string, name: string): K8sObject {
  const object = objects().find((candidate) => candidate.kind === kind && candidate.metadata.name === name);
  if (object === undefined) throw new Error(`no ${kind} ${name}`);
  return object;
}

const controller = { username: CONTROLLER_USER, groups: [] };
function may(rules: PolicyRule[], question: Omit<AuthorizationQuestion, 'user'>): boolean {
  return rbacAllows(rules, { user: controller, ...question });
}

describe('deploy/kubernetes', () => {
  it('every manifest parses and names its apiVersion, kind and name; kustomization lists every file', () => {
    const all = objects();
    expect(all.length).toBe(23);
    for (const object of all) {
      expect(object.apiVersion).toMatch(/^[a-z0-9./]+$/);
      expect(object.metadata.name).toMatch(/^[a-z0-9:.-]+$/);
    }
    const kustomization = JSON.parse(readFileSync(path.join(DEPLOY_DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual(readdirSync(DEPLOY_DIR).filter((file) => file.endsWith('.json')).sort());
  });

  it('renders with the real kubectl kustomize', () => {
    const kubectl = spawnSync('kubectl', ['kustomize', DEPLOY_DIR], { encoding: 'utf8' });
    if (kubectl.error !== undefined) return; // kubectl not installed here
    expect(kubectl.status).toBe(0);
    expect(kubectl.stdout.match(/^kind: /gm)).toHaveLength(23);
  });

  it('runs `jitca rotate apply` daily, never two at once, on the Deployment\'s volumes and locked down like it', () => {
    type PodSpec = { containers: Array<{ args: string[]; volumeMounts: unknown; securityContext: unknown }>; volumes: unknown };
    const cronJob = find('CronJob', 'jitca-rotate') as K8sObject & { spec: { schedule: string; concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: PodSpec } } } } };
    const deployment = find('Deployment', 'jitca-csr-controller') as K8sObject & { spec: { template: { spec: PodSpec } } };
    expect(cronJob.spec.schedule).toMatch(/^\d+ \d+ \* \* \*$/);
    expect(cronJob.spec.concurrencyPolicy).toBe('Forbid');
    const pod = cronJob.spec.jobTemplate.spec.template.spec;
    const controllerPod = deployment.spec.template.spec;
    expect(pod.containers[0]?.args.slice(2)).toEqual(['rotate', 'apply', '--ca', 'all']);
    expect(pod.volumes).toEqual(controllerPod.volumes);
    expect(pod.containers[0]?.volumeMounts).toEqual(controllerPod.containers[0]?.volumeMounts);
    expect(pod.containers[0]?.securityContext).toEqual(controllerPod.containers[0]?.securityContext);
  });

  it('the controller ClusterRole is least privilege: read/watch CSRs, update approval and status, approve/sign only named signers', () => {
    const rules = clusterRoleRules('clusterrole-csr-controller.json', 'jitca-csr-controller');
    expect(JSON.stringify(rules)).not.toContain('*');
    const csr = { resource: 'certificatesigningrequests' } as const;
    for (const verb of ['get', 'list', 'watch']) expect(may(rules, { ...csr, verb })).toBe(true);
    for (const verb of ['create', 'update', 'patch', 'delete', 'deletecollection']) expect(may(rules, { ...csr, verb })).toBe(false);
    expect(may(rules, { ...csr, subresource: 'approval', verb: 'update' })).toBe(true);
    expect(may(rules, { ...csr, subresource: 'status', verb: 'update' })).toBe(true);
    expect(may(rules, { ...csr, subresource: 'status', verb: 'patch' })).toBe(false);
    const signer = (name: string, verb: string): boolean => may(rules, { resource: 'signers', name, verb });
    expect(signer('jitca.dev/debug-client', 'approve')).toBe(true);
    expect(signer('jitca.dev/debug-client', 'sign')).toBe(true);
    expect(signer('kubernetes.io/kube-apiserver-client', 'approve')).toBe(true);
    expect(signer('kubernetes.io/kube-apiserver-client', 'sign')).toBe(false);
    expect(signer('kubernetes.io/kube-apiserver-client-kubelet', 'approve')).toBe(false);
    expect(signer('kubernetes.io/kubelet-serving', 'approve')).toBe(false);
    expect(signer('jitca.dev/other', 'sign')).toBe(false);
    // ClusterTrustBundles with spec.signerName need attest on that signer (issue 19): jitca's only.
    expect(signer('jitca.dev/debug-client', 'attest')).toBe(true);
    expect(signer('kubernetes.io/kube-apiserver-client', 'attest')).toBe(false);
    expect(signer('jitca.dev/other', 'attest')).toBe(false);
    for (const verb of ['get', 'list', 'create', 'update', 'delete']) expect(may(rules, { resource: 'clustertrustbundles', verb })).toBe(true);
    expect(rules.every((rule) => rule.apiGroups.length === 1 && rule.apiGroups[0] === 'certificates.k8s.io')).toBe(true);
  });

  it('binds that ClusterRole to the Deployment’s ServiceAccount only, and the pod runs locked down', () => {
    const binding = find('ClusterRoleBinding', 'jitca-csr-controller') as K8sObject & { subjects: unknown[]; roleRef: unknown };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'jitca-csr-controller', namespace: 'jitca' }]);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'jitca-csr-controller' });
    find('ServiceAccount', 'jitca-csr-controller');
    const deployment = find('Deployment', 'jitca-csr-controller') as K8sObject & {
      spec: { replicas: number; strategy: { type: string }; template: { spec: { serviceAccountName: string; securityContext: Record<string, unknown>; containers: Array<{ securityContext: Record<string, unknown> }> } } };
    };
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe('jitca-csr-controller');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    // SQLite and the SoftHSM2 token sit on one ReadWriteOnce volume: one pod at a time.
    expect(deployment.spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
  });

  it('ships the seeds’ debug Roles bound to groups (never to users), with the core API group spelled ""', () => {
    const oncall = find('Role', 'oncall-debug') as K8sObject & { rules: PolicyRule[] };
    expect(oncall.rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'events'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods/exec', 'pods/portforward'], verbs: ['create'] },
      { apiGroups: ['apps'], resources: ['deployments', 'replicasets'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/ephemeralcontainers'], verbs: ['update'] },
    ]);
    expect((find('Role', 'jit-debug') as K8sObject & { rules: PolicyRule[] }).rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] },
    ]);
    expect((find('ClusterRole', 'jit-cluster-read') as K8sObject & { rules: PolicyRule[] }).rules).toEqual([
      { apiGroups: [''], resources: ['nodes', 'namespaces'], verbs: ['get', 'list', 'watch'] },
    ]);
    const subjects = (kind: string, name: string): unknown => (find(kind, name) as K8sObject & { subjects: unknown }).subjects;
    expect(subjects('RoleBinding', 'oncall-debug')).toEqual([{ kind: 'Group', name: 'oncall-payments', apiGroup: 'rbac.authorization.k8s.io' }]);
    expect(subjects('RoleBinding', 'jit-debug')).toEqual([{ kind: 'Group', name: 'jit:oncall:payments', apiGroup: 'rbac.authorization.k8s.io' }]);
    expect(subjects('ClusterRoleBinding', 'jit-cluster-read')).toEqual([{ kind: 'Group', name: 'jit:oncall:cluster', apiGroup: 'rbac.authorization.k8s.io' }]);
    for (const object of objects()) {
      for (const subject of (object['subjects'] as Array<{ kind: string }> | undefined) ?? []) expect(subject.kind).not.toBe('User');
      expect(JSON.stringify(object['rules'] ?? [])).not.toContain('" "');
    }
  });
});

describe('deploy/kubernetes: the RBAC Roles of the operation matrix (issue 15)', () => {
  /** Namespaced core-group checks, as the apiserver's RBAC authorizer matches them. */
  function allows(rules: PolicyRule[], verb: string, resource: string, name?: string): boolean {
    return rules.some(
      (rule) =>
        rule.apiGroups.includes(resource.startsWith('deployments') ? 'apps' : '') &&
        rule.verbs.includes(verb) &&
        rule.resources.includes(resource) &&
        (rule.resourceNames === undefined || (name !== undefined && rule.resourceNames.includes(name))),
    );
  }
  const rules = (name: string): PolicyRule[] => (find('Role', name) as K8sObject & { rules: PolicyRule[] }).rules;

  it.each([
    ['debug-read-only', [['get', 'pods/log'], ['list', 'pods'], ['get', 'configmaps', 'app-config'], ['list', 'deployments']], [['create', 'pods/exec'], ['create', 'pods/portforward'], ['get', 'secrets'], ['get', 'configmaps', 'db-credentials'], ['list', 'configmaps']]],
    ['debug-exec', [['create', 'pods/exec'], ['get', 'pods']], [['patch', 'pods/ephemeralcontainers'], ['create', 'pods/portforward'], ['get', 'secrets'], ['delete', 'pods']]],
    ['debug-ephemeral', [['patch', 'pods/ephemeralcontainers'], ['create', 'pods/attach'], ['get', 'pods']], [['create', 'pods/exec'], ['create', 'pods/portforward'], ['get', 'secrets'], ['delete', 'pods']]],
    ['debug-portforward', [['create', 'pods/portforward'], ['get', 'pods']], [['create', 'pods/exec'], ['patch', 'pods/ephemeralcontainers'], ['get', 'pods/log']]],
  ] as const)('%s allows what its operations need and nothing of the others', (name, granted, refused) => {
    for (const [verb, resource, object] of granted) expect(allows(rules(name), verb, resource, object), `${verb} ${resource}`).toBe(true);
    for (const [verb, resource, object] of refused) expect(allows(rules(name), verb, resource, object), `${verb} ${resource}`).toBe(false);
    expect(find('Role', name).metadata.namespace).toBe('payments');
    expect((find('RoleBinding', name) as K8sObject & { subjects: unknown; roleRef: unknown }).subjects).toEqual([
      { kind: 'Group', name: `jit:payments:${name}`, apiGroup: 'rbac.authorization.k8s.io' },
    ]);
  });

  it("the example policy's operations name exactly the groups these RoleBindings bind", () => {
    const example = JSON.parse(readFileSync(path.resolve(DEPLOY_DIR, '../policy.example.json'), 'utf8')) as {
      roles: Array<{ operations?: Array<{ kubernetesGroups?: string[] }> }>;
    };
    const named = new Set(example.roles.flatMap((role) => (role.operations ?? []).flatMap((operation) => operation.kubernetesGroups ?? [])));
    const bound = new Set(
      ['debug-read-only', 'debug-exec', 'debug-ephemeral', 'debug-portforward'].flatMap((name) =>
        ((find('RoleBinding', name) as K8sObject & { subjects: Array<{ name: string }> }).subjects).map((subject) => subject.name),
      ),
    );
    expect([...named].sort()).toEqual([...bound].sort());
  });
});
