/**
 * The API double for bench/csr.ts on its own thread, as the apiserver is its own process in a
 * cluster: its request handling, TLS and CSR signature checks (validation.go re-verifies the
 * request on every update) must not eat the controller's CPU in the measurement.
 */
import { parentPort } from 'node:worker_threads';
import { startKubeApiDouble } from '../test/support/kube-api-double.ts';
import { CONTROLLER_USER, TOKENS } from '../test/support/kube-csr-harness.ts';
import { clusterRoleRules, rbacAllows } from '../test/support/kube-rbac.ts';

export type DoubleWorkerMessage =
  | { type: 'create'; pems: string[] }
  | { type: 'wait'; count: number; timeoutMs: number }
  | { type: 'close' };

export type DoubleWorkerReply =
  | { type: 'ready'; url: string; caPem: string }
  | { type: 'created' }
  | { type: 'done'; approved: number; certificates: number; writtenTwice: number; conflicts: number; requests: number }
  | { type: 'failed'; message: string }
  | { type: 'closed' };

const port = parentPort;
if (port === null) throw new Error('run as a worker of bench/csr.ts');
const controllerRules = clusterRoleRules('clusterrole-csr-controller.json', 'jitca-csr-controller');
const double = await startKubeApiDouble({
  users: {
    [TOKENS.alice]: { username: 'alice', groups: ['oncall-payments'] },
    [TOKENS.controller]: { username: CONTROLLER_USER, groups: ['system:serviceaccounts'] },
  },
  authorize: (question) => question.user.username !== CONTROLLER_USER || rbacAllows(controllerRules, question),
});
const reply = (message: DoubleWorkerReply): void => port.postMessage(message);
reply({ type: 'ready', url: double.url, caPem: double.caPem });

port.on('message', (message: DoubleWorkerMessage) => {
  if (message.type === 'create') {
    message.pems.forEach((requestPem, i) =>
      double.create(TOKENS.alice, { name: `bench-${i}`, requestPem, signerName: 'jitca.dev/debug-client', usages: ['client auth'], expirationSeconds: 1800 }),
    );
    reply({ type: 'created' });
  } else if (message.type === 'wait') {
    double
      .waitFor(() => double.stats.certificateWrites.size === message.count, message.timeoutMs, `${message.count} certificates`)
      .then(() => {
        const writes = [...double.stats.certificateWrites.values()];
        reply({
          type: 'done',
          approved: double.list().filter((csr) => csr.status.conditions?.some((c) => c.type === 'Approved')).length,
          certificates: writes.length,
          writtenTwice: writes.filter((n) => n !== 1).length,
          conflicts: double.stats.conflicts,
          requests: double.stats.requests,
        });
      })
      .catch((error: unknown) => reply({ type: 'failed', message: error instanceof Error ? error.message : String(error) }));
  } else {
    void double.close().then(() => reply({ type: 'closed' }));
  }
});
