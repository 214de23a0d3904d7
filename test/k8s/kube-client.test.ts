import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, JitcaError } from '../../src/errors.ts';
import { createCsrInformer } from '../../src/k8s/csr-informer.ts';
import { createCsrApi, createKubeConfig, type Csr } from '../../src/k8s/kube-client.ts';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.ts';
import { recordingLogger, type LogEntry } from '../support/kube-csr-harness.ts';
import { buildEd25519Csr } from '../support/kube-der.ts';
import { makeServingCertificate } from '../support/kube-tls.ts';

const TOKEN = 'token-controller';
const users = { [TOKEN]: { username: 'controller', groups: [] }, alice: { username: 'alice', groups: ['oncall-payments'] } };
const doubles: KubeApiDouble[] = [];

afterEach(async () => {
  for (const double of doubles.splice(0)) await double.close();
});

async function double(options: Partial<Parameters<typeof startKubeApiDouble>[0]> = {}): Promise<KubeApiDouble> {
  const started = await startKubeApiDouble({ users, ...options });
  doubles.push(started);
  return started;
}

function createOne(target: KubeApiDouble, name: string): void {
  target.create('alice', { name, requestPem: buildEd25519Csr('alice').pem, signerName: 'jitca.dev/debug-client', usages: ['client auth'] });
}

async function caught(action: () => Promise<unknown>): Promise<JitcaError> {
  try {
    await action();
  } catch (error) {
    if (error instanceof JitcaError) return error;
    throw error;
  }
  throw new Error('expected a JitcaError');
}

describe('createKubeConfig and the CSR API', () => {
  it('reuses its TLS connection instead of a handshake per request', async () => {
    const server = await double();
    createOne(server, 'c1');
    const api = createCsrApi(createKubeConfig({ kind: 'token', server: server.url, token: TOKEN, caPem: server.caPem }));
    for (let i = 0; i < 50; i += 1) await api.read('c1');
    expect(server.stats.requests).toBe(50);
    expect(server.stats.connections).toBeLessThanOrEqual(2);
  });

  it('trusts only the configured CA: another server certificate fails as unreachable, retryable', async () => {
    const server = await double();
    const otherCa = makeServingCertificate().certPem;
    const api = createCsrApi(createKubeConfig({ kind: 'token', server: server.url, token: TOKEN, caPem: otherCa }));
    const error = await caught(() => api.list());
    expect(error.code).toBe(ErrorCodes.KUBE_UNAVAILABLE);
    expect(error.retryable).toBe(true);
    expect(server.stats.requests).toBe(0);
  });

  it('maps apiserver answers to stable codes: 409 conflict, 404/401/422 refused with the status, never the token in the message', async () => {
    const server = await double();
    createOne(server, 'c1');
    const api = createCsrApi(createKubeConfig({ kind: 'token', server: server.url, token: TOKEN, caPem: server.caPem }));
    const current = await api.read('c1');
    server.touch('c1');
    const conflict = await caught(() => api.replaceApproval({ ...current, status: { conditions: [{ type: 'Approved', status: 'True' }] } }));
    expect(conflict).toMatchObject({ code: ErrorCodes.KUBE_CONFLICT, details: { status: 409, reason: 'Conflict' } });
    expect(await caught(() => api.read('missing'))).toMatchObject({ code: ErrorCodes.KUBE_REQUEST_FAILED, details: { status: 404, reason: 'NotFound' } });
    const latest = await api.read('c1');
    const invalid = await caught(() => api.replaceApproval({ ...latest, status: { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] } }));
    expect(invalid).toMatchObject({ code: ErrorCodes.KUBE_REQUEST_FAILED, details: { status: 422, reason: 'Invalid' } });
    const badToken = createCsrApi(createKubeConfig({ kind: 'token', server: server.url, token: 'not-a-token', caPem: server.caPem }));
    const unauthorized = await caught(() => badToken.list());
    expect(unauthorized).toMatchObject({ code: ErrorCodes.KUBE_REQUEST_FAILED, details: { status: 401 } });
    expect(unauthorized.message).not.toContain('not-a-token');
  });

  it('refuses a kubeconfig it cannot load with ERR_CONFIG_INVALID', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jitca-kubeconfig-'));
    try {
      let error: unknown;
      try {
        createKubeConfig({ kind: 'kubeconfig', paths: [path.join(dir, 'missing')] });
      } catch (caughtError) {
        error = caughtError;
      }
      expect(error).toBeInstanceOf(JitcaError);
      expect((error as JitcaError).code).toBe(ErrorCodes.CONFIG_INVALID);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the informer when the apiserver is away', () => {
  it('retries the list with growing, jittered, capped delays, and syncs once the apiserver is back', async () => {
    // Take a free port and a serving certificate, then leave the port closed.
    const first = await double();
    const port = Number(new URL(first.url).port);
    const serving = first.serving;
    await first.close();
    doubles.splice(doubles.indexOf(first), 1);

    const logs: LogEntry[] = [];
    const seen: Csr[] = [];
    const informer = createCsrInformer({
      api: createCsrApi(createKubeConfig({ kind: 'token', server: first.url, token: TOKEN, caPem: first.caPem })),
      logger: recordingLogger(logs),
      onChange: (change) => seen.push(change.csr),
      backoff: { initialMs: 40, maxMs: 320 },
    });
    informer.start();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const delays = logs.filter((entry) => entry.message === 'listing CertificateSigningRequests failed').map((entry) => Number(entry.object['retryInMs']));
    expect(delays.length).toBeGreaterThanOrEqual(4);
    expect(delays.every((delay) => delay <= 320)).toBe(true);
    expect(delays[0]).toBeLessThanOrEqual(40);
    expect(Math.max(...delays)).toBeGreaterThan(160); // it grew towards the cap
    expect(logs.every((entry) => entry.object['err'] === undefined || (entry.object['err'] as { code?: string }).code === ErrorCodes.KUBE_UNAVAILABLE)).toBe(true);

    const back = await double({ port, ...(serving === undefined ? {} : { serving }) });
    createOne(back, 'waiting');
    await informer.synced();
    expect(seen.map((csr) => csr.metadata?.name)).toEqual(['waiting']);
    expect(informer.stats().lists).toBe(1);
    await informer.stop();
  });
});
