import { describe, expect, it } from 'vitest';
import { decideSessionCommand, type SessionGrant } from '../../src/gateway/session-command.ts';
import { sessionGrantOf } from '../../src/gateway/session-grant.ts';
import { scopeExtensions } from '../../src/issuance/scope-extensions.ts';
import type { SshGrant } from '../../src/policy/types.ts';

const payments: SessionGrant = {
  commands: ['kubectl get pods', 'kubectl logs', 'kubectl exec', 'curl localhost:8080/debug/pprof'],
  scope: { cluster: 'prod-eu', namespace: 'payments' },
};
const podScoped: SessionGrant = { ...payments, scope: { ...payments.scope, pod: 'payments-api-7d9' } };

describe('gateway session: what runs', () => {
  it('runs an allowed kubectl command in the certificate namespace', () => {
    expect(decideSessionCommand('kubectl logs payments-api-7d9 -c app --tail 100', payments)).toEqual({
      kind: 'run',
      argv: ['kubectl', '--namespace', 'payments', 'logs', 'payments-api-7d9', '-c', 'app', '--tail', '100'],
      allowedBy: 'kubectl logs',
    });
  });

  it('passes the words after -- to the container untouched (kubectl does not read them)', () => {
    const decision = decideSessionCommand('kubectl exec payments-api-7d9 -it -- ls -l /tmp', podScoped);
    expect(decision).toMatchObject({ kind: 'run', argv: ['kubectl', '--namespace', 'payments', 'exec', 'payments-api-7d9', '-it', '--', 'ls', '-l', '/tmp'] });
  });

  it('runs a non-kubectl command inside the certificate pod, never on the gateway', () => {
    expect(decideSessionCommand('curl localhost:8080/debug/pprof -s', podScoped)).toEqual({
      kind: 'run',
      argv: ['kubectl', '--namespace', 'payments', 'exec', 'payments-api-7d9', '--', 'curl', 'localhost:8080/debug/pprof', '-s'],
      allowedBy: 'curl localhost:8080/debug/pprof',
    });
    expect(decideSessionCommand('curl localhost:8080/debug/pprof', payments)).toMatchObject({ kind: 'refuse', rule: 'needs-pod' });
  });

  it('gives an interactive session the menu of allowed commands, not a shell', () => {
    expect(decideSessionCommand(undefined, payments)).toEqual({ kind: 'menu', commands: payments.commands });
    expect(decideSessionCommand('   ', payments)).toMatchObject({ kind: 'menu' });
  });

  it('allows kubectl alone when the role lists no commands', () => {
    expect(decideSessionCommand('kubectl get deployments', { scope: payments.scope })).toMatchObject({ kind: 'run', allowedBy: 'kubectl' });
    expect(decideSessionCommand('bash', { scope: payments.scope })).toMatchObject({ kind: 'refuse', rule: 'not-allowed' });
  });
});

describe("gateway session: the certificate's operations", () => {
  const logsOnly: SessionGrant = { ...podScoped, operations: ['view-logs'] };
  it('runs what the operations cover', () => {
    expect(decideSessionCommand('kubectl logs payments-api-7d9', logsOnly)).toMatchObject({ kind: 'run' });
    expect(decideSessionCommand('kubectl exec payments-api-7d9 -- ls', { ...podScoped, operations: ['exec'] })).toMatchObject({ kind: 'run' });
  });
  it('refuses exec, in-pod commands and cluster changes to a view-logs certificate, though its commands list them', () => {
    expect(decideSessionCommand('kubectl exec payments-api-7d9 -- ls', logsOnly)).toMatchObject({ kind: 'refuse', rule: 'operation' });
    expect(decideSessionCommand('curl localhost:8080/debug/pprof', logsOnly)).toMatchObject({ kind: 'refuse', rule: 'operation' });
    expect(decideSessionCommand('kubectl delete pod payments-api-7d9', { scope: podScoped.scope, operations: ['view-logs', 'exec'] })).toMatchObject({ kind: 'refuse', rule: 'operation' });
  });
  it('reads operations@ as scope-extensions.ts writes it', () => {
    const grant: SshGrant = { role: 'r', principals: ['p'], ttlSeconds: 60, scope: { cluster: 'c', namespace: 'n' }, extensions: [], verifyRequired: false, operations: ['view-logs', 'exec'] };
    expect(sessionGrantOf({ customExtensions: scopeExtensions(grant, 'jitca.dev', 'auto:1') }, 'jitca.dev')?.operations).toEqual(['view-logs', 'exec']);
  });
});

describe('gateway session: nothing acts on the gateway host', () => {
  const anyKubectl: SessionGrant = { scope: payments.scope };
  it.each([
    // An editor is a shell; cp reads another session's kubeconfig; proxy listens here.
    'kubectl edit pod payments-api-7d9',
    'kubectl cp /tmp/jitca-session-x/kubeconfig payments-api-7d9:/tmp/k',
    'kubectl cp payments-api-7d9:/tmp/x /usr/local/bin/kubectl',
    'kubectl proxy --port=8001',
    'kubectl config view',
    'kubectl plugin list',
    'kubectl kustomize /etc',
    'kubectl apply --validate=false',
    'kubectl create secret generic x',
    'kubectl whoami-plugin',
    'kubectl',
  ])('%s', (command) => {
    expect(decideSessionCommand(command, anyKubectl)).toMatchObject({ kind: 'refuse', rule: 'local-effect' });
  });

  it.each([
    'kubectl get pods --cache-dir=/root/.kube',
    'kubectl get pods --log-file /tmp/x',
    'kubectl create configmap x --from-file=/etc/shadow',
    'kubectl get pods -o go-template-file=/etc/shadow',
    'kubectl get pods --output=jsonpath-file=/etc/shadow',
    'kubectl get pods -o=template-file=/etc/shadow',
    'kubectl get pods --template /etc/shadow',
  ])('%s', (command) => {
    expect(decideSessionCommand(command, anyKubectl)).toMatchObject({ kind: 'refuse', rule: 'local-effect' });
  });

  it('refuses a file template in the short spelling too (its letters include the target flag -l)', () => {
    expect(decideSessionCommand('kubectl get pods -ogo-template-file=/etc/shadow', anyKubectl)).toMatchObject({ kind: 'refuse' });
  });

  it('still runs the subcommands that only talk to the API server', () => {
    for (const command of ['kubectl get pods -o yaml', 'kubectl logs x --follow', 'kubectl describe pod x', 'kubectl auth can-i get pods', 'kubectl -v 6 get pods']) {
      expect(decideSessionCommand(command, anyKubectl), command).toMatchObject({ kind: 'run' });
    }
  });
});

describe('gateway session: refusals', () => {
  it.each([
    // Not on the list, or a prefix trick.
    ['not-allowed', 'kubectl delete pod payments-api-7d9', payments],
    ['not-allowed', 'kubectl get podsx', payments],
    // Allowed entries match whole words: a longer last word is another command.
    ['not-allowed', 'curl localhost:8080/debug/pprof/../../admin', podScoped],
    ['not-allowed', 'kubectl --context other get pods', payments],
    ['not-allowed', 'sh -c id', payments],
    ['not-allowed', 'scp -t /tmp', payments],
    ['not-allowed', 'internal-sftp', payments],
    ['not-allowed', '/usr/lib/openssh/sftp-server', payments],
    // Shell metacharacters never reach a shell: refused outright.
    ['characters', 'kubectl logs x; cat /etc/shadow', payments],
    ['characters', 'kubectl logs $(id)', payments],
    ['characters', 'kubectl logs `id`', payments],
    ['characters', 'kubectl logs x | sh', payments],
    ['characters', 'kubectl logs x > /tmp/out', payments],
    ['characters', "kubectl logs 'x'", payments],
    ['characters', 'kubectl logs x\nid', payments],
    ['characters', 'kubectl\tlogs x', payments],
    // Another namespace, cluster or identity, in every spelling.
    ['target-flag', 'kubectl logs x -n kube-system', payments],
    ['target-flag', 'kubectl logs x --namespace=kube-system', payments],
    ['target-flag', 'kubectl logs x -nkube-system', payments],
    ['target-flag', 'kubectl get pods -A', payments],
    ['target-flag', 'kubectl exec x -iA -- id', payments],
    ['target-flag', 'kubectl get pods --all-namespaces', payments],
    ['target-flag', 'kubectl get pods --context other', payments],
    ['target-flag', 'kubectl get pods --kubeconfig=/etc/kubernetes/admin.conf', payments],
    ['target-flag', 'kubectl get pods --as=system:admin', payments],
    ['target-flag', 'kubectl get pods --server https://127.0.0.1:6443', payments],
    ['target-flag', 'kubectl get pods -l app=other', payments],
    // Another pod when the certificate names one.
    ['outside-scope', 'kubectl logs payments-db-0', podScoped],
    ['outside-scope', 'kubectl exec pod/payments-db-0 -- id', podScoped],
    ['outside-scope', 'kubectl get pods other', podScoped],
  ] as const)('%s: %j', (rule, command, grant) => {
    expect(decideSessionCommand(command, grant)).toMatchObject({ kind: 'refuse', rule });
  });

  it('takes the certificate pod in the forms kubectl accepts', () => {
    for (const command of ['kubectl logs payments-api-7d9 -c app', 'kubectl logs pod/payments-api-7d9', 'kubectl get pods payments-api-7d9', 'kubectl get pods']) {
      expect(decideSessionCommand(command, podScoped)).toMatchObject({ kind: 'run' });
    }
  });

  it('bounds the command', () => {
    expect(decideSessionCommand(`kubectl logs ${'x'.repeat(5000)}`, payments)).toMatchObject({ kind: 'refuse', rule: 'too-long' });
    expect(decideSessionCommand(`kubectl logs ${'-p '.repeat(70)}`, payments)).toMatchObject({ kind: 'refuse', rule: 'too-long' });
  });
});

describe('the grant read from the certificate', () => {
  const d = 'jitca.dev';
  it('reads scope and commands as scope-extensions.ts writes them', () => {
    const grant: SshGrant = {
      role: 'payments-debug',
      principals: ['oncall-payments'],
      ttlSeconds: 900,
      scope: { cluster: 'prod-eu', namespace: 'payments', pod: 'api-0' },
      commands: ['kubectl logs'],
      extensions: [],
      verifyRequired: false,
    };
    const written = scopeExtensions(grant, d, 'req-1');
    expect(sessionGrantOf({ customExtensions: written }, d)).toEqual({ commands: ['kubectl logs'], scope: { cluster: 'prod-eu', namespace: 'payments', pod: 'api-0' } });
  });

  it.each([
    ['no scope', {}],
    ['commands not JSON', { [`scope-cluster@${d}`]: 'c', [`scope-namespace@${d}`]: 'n', [`commands@${d}`]: 'kubectl logs' }],
    ['commands empty', { [`scope-cluster@${d}`]: 'c', [`scope-namespace@${d}`]: 'n', [`commands@${d}`]: '[]' }],
    ['commands not strings', { [`scope-cluster@${d}`]: 'c', [`scope-namespace@${d}`]: 'n', [`commands@${d}`]: '[1]' }],
  ])('gives no grant for %s', (_, customExtensions) => {
    expect(sessionGrantOf({ customExtensions }, d)).toBeUndefined();
  });
});

describe('gateway session: port-forward, built by the gateway to the certificate\'s pod and port', () => {
  // The role's commands allow it (commands@), its operations include it (operations@), and the scope names a pod.
  const forwarding: SessionGrant = { ...podScoped, commands: ['kubectl logs', 'kubectl port-forward'], operations: ['view-logs', 'port-forward'], forward: { host: '127.0.16.151', port: 40000 } };
  it('runs kubectl port-forward to the scoped pod, on the loopback address and port sshd lets this certificate forward to', () => {
    const expected = ['kubectl', '--namespace', 'payments', 'port-forward', '--address', '127.0.16.151', 'pod/payments-api-7d9', '40000:8080'];
    for (const command of ['kubectl port-forward 8080', 'kubectl port-forward payments-api-7d9 8080', 'kubectl port-forward pod/payments-api-7d9 8080']) {
      expect(decideSessionCommand(command, forwarding)).toEqual({ kind: 'run', argv: expected, allowedBy: 'kubectl port-forward' });
    }
  });
  it.each([
    ['without the operation', 'kubectl port-forward 8080', { ...forwarding, operations: ['view-logs'] }, 'operation'],
    ['without operations at all', 'kubectl port-forward 8080', { ...forwarding, operations: undefined }, 'operation'],
    ['not among the role\'s commands', 'kubectl port-forward 8080', { ...forwarding, commands: ['kubectl logs'] }, 'not-allowed'],
    ['without a pod', 'kubectl port-forward 8080', { ...forwarding, scope: payments.scope }, 'needs-pod'],
    ['to another pod', 'kubectl port-forward pod/payments-db-0 5432', forwarding, 'outside-scope'],
    ['with an address of the user\'s', 'kubectl port-forward --address 0.0.0.0 8080', forwarding, 'local-effect'],
    ['with a local port of the user\'s', 'kubectl port-forward 9999:8080', forwarding, 'not-allowed'],
    ['with two ports', 'kubectl port-forward payments-api-7d9 8080 9090', forwarding, 'not-allowed'],
    ['with no port', 'kubectl port-forward', forwarding, 'not-allowed'],
    ['to port 0 or above 65535', 'kubectl port-forward 70000', forwarding, 'not-allowed'],
  ] as const)('refused %s', (_what, command, grant, rule) => {
    expect(decideSessionCommand(command, grant as SessionGrant)).toMatchObject({ kind: 'refuse', rule });
  });
});
