/**
 * CSR controller throughput: N CertificateSigningRequests (Ed25519, built in process before the
 * clock starts) in the API double over HTTPS (on its own thread, as the apiserver is its own process), the controller with a real SoftHSM2 CA key, the
 * SQLite store and the deploy ClusterRole's permissions; prints the time until every CSR is
 * approved and carries a certificate. Two runs:
 *   - backlog: all N exist before the controller starts (start-up after an outage);
 *   - burst:   the controller is watching and N arrive at once.
 * Target (issue 6): 1,000 CSRs in <= 5 s. Bounded: N is capped at 20,000 and each run at 120 s.
 *
 * Run: ./scripts/node node bench/csr.ts [count] [--in-process-store] [--concurrency=N]
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureSoftHsmToken, readPinFile } from '../hsm/softhsm-bootstrap.ts';
import { openPkcs11Token } from '../hsm/pkcs11-token.ts';
import { systemClock } from '../src/clock.ts';
import { randomSerial } from '../src/issuance/serial.ts';
import { createCsrController } from '../src/k8s/csr-controller.ts';
import { createCsrApi, createKubeConfig } from '../src/k8s/kube-client.ts';
import { parsePolicy } from '../src/policy/load.ts';
import { openStore } from '../src/store/store.ts';
import { openWorkerStore } from '../src/store/worker-store.ts';
import { createCaCertificate } from '../src/x509/ca-certificate.ts';
import { Worker } from 'node:worker_threads';
import { TOKENS, testPolicyDocument } from '../test/support/kube-csr-harness.ts';
import { buildEd25519Csr } from '../test/support/kube-der.ts';
import type { DoubleWorkerMessage, DoubleWorkerReply } from './csr-double-worker.ts';
import { machineLine } from './references.ts';

const count = Math.min(20_000, Math.max(1, Number(process.argv[2] ?? 1000)));
const inProcessStore = process.argv.includes('--in-process-store');
const concurrencyArg = process.argv.find((arg) => arg.startsWith('--concurrency='));
const concurrency = concurrencyArg === undefined ? undefined : Math.min(256, Math.max(1, Number(concurrencyArg.slice('--concurrency='.length))));
const RUN_LIMIT_MS = 120_000;

/** The API double on its own thread (csr-double-worker.ts), driven by messages. */
function startDoubleWorker() {
  const worker = new Worker(new URL('./csr-double-worker.ts', import.meta.url));
  const replies: DoubleWorkerReply[] = [];
  let wake: (() => void) | undefined;
  worker.on('message', (reply: DoubleWorkerReply) => {
    replies.push(reply);
    wake?.();
  });
  worker.on('error', (error) => {
    replies.push({ type: 'failed', message: error.message });
    wake?.();
  });
  return {
    worker,
    send: (message: DoubleWorkerMessage): void => worker.postMessage(message),
    async next(type: DoubleWorkerReply['type']): Promise<DoubleWorkerReply> {
      for (;;) {
        const index = replies.findIndex((reply) => reply.type === type || reply.type === 'failed');
        if (index >= 0) return replies.splice(index, 1)[0] as DoubleWorkerReply;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-bench-csr-'));
try {
  const softhsm = ensureSoftHsmToken({ dataDir, tokenLabel: 'jitca-bench-csr' });
  const token = openPkcs11Token({ modulePath: softhsm.modulePath, tokenLabel: 'jitca-bench-csr', pin: readPinFile(softhsm.pinFile) });
  const signer = await token.generateKey('k8s-client-ca', 1, { kind: 'ed25519' });
  const now = Date.now();
  const ca = await createCaCertificate({
    signer,
    commonName: 'jitca bench CA',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    serial: randomSerial(),
  });
  const kubeCa = { signer, certificate: new X509Certificate(ca.der) };
  const policy = parsePolicy(JSON.stringify(testPolicyDocument()));

  console.log(machineLine());
  console.log(
    `${count} CSRs per run, store: ${inProcessStore ? 'in-process SQLite' : 'SQLite on its own thread'}, HSM: SoftHSM2 Ed25519, concurrency ${concurrency ?? 'default'}`,
  );

  for (const mode of ['backlog', 'burst'] as const) {
    const runDir = mkdtempSync(path.join(dataDir, `${mode}-`));
    const sqlitePath = path.join(runDir, 'jitca.sqlite');
    const store = inProcessStore ? await openStore({ sqlitePath, clock: systemClock }) : await openWorkerStore({ sqlitePath });
    const double = startDoubleWorker();
    const { url, caPem } = (await double.next('ready')) as Extract<DoubleWorkerReply, { type: 'ready' }>;
    const pems = Array.from({ length: count }, () => buildEd25519Csr('alice', ['jit:oncall:payments']).pem);
    const controller = createCsrController({
      api: createCsrApi(createKubeConfig({ kind: 'token', server: url, token: TOKENS.controller, caPem })),
      policy,
      store,
      activeCa: () => kubeCa,
      clock: systemClock,
      ...(concurrency === undefined ? {} : { concurrency }),
    });

    let started: number;
    let cpuBefore = process.cpuUsage();
    let mainBefore = process.threadCpuUsage();
    if (mode === 'backlog') {
      double.send({ type: 'create', pems });
      await double.next('created');
      started = performance.now();
      cpuBefore = process.cpuUsage();
      mainBefore = process.threadCpuUsage();
      await controller.start();
    } else {
      await controller.start();
      started = performance.now();
      double.send({ type: 'create', pems });
    }
    double.send({ type: 'wait', count, timeoutMs: RUN_LIMIT_MS });
    const done = await double.next('done');
    const elapsed = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const main = process.threadCpuUsage(mainBefore);
    if (done.type !== 'done') throw new Error(`run failed: ${JSON.stringify(done)}`);
    await controller.idle();
    const stats = controller.stats();
    console.log(
      `${mode.padEnd(7)}: ${count} approved+signed in ${(elapsed / 1000).toFixed(2)} s (${Math.round(count / (elapsed / 1000))} CSR/s); ` +
        `approved ${done.approved}, HSM signatures ${stats.signed}, certificates written ${stats.certificatesWritten}, ` +
        `409s ${done.conflicts}, retries ${stats.retries}, store commits ${store.stats().commits}, apiserver requests ${done.requests}` +
        `; CPU per CSR: controller thread ${((main.user + main.system) / 1000 / count).toFixed(2)} ms, ` +
        `process (controller + store + apiserver double threads) ${((cpu.user + cpu.system) / 1000 / count).toFixed(2)} ms` +
        `${done.writtenTwice > 0 ? ` — ${done.writtenTwice} CERTIFICATES WRITTEN TWICE` : ''}`,
    );
    await controller.stop();
    double.send({ type: 'close' });
    await double.next('closed');
    await double.worker.terminate();
    await store.close();
  }
  token.close();
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
