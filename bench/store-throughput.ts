/**
 * Measures recordDecision throughput with 1 caller (each call waits for its own COMMIT), 8 and
 * 200 concurrent callers (group commit shares COMMITs: batches of up to 8 and 200), in process and
 * on the store's worker thread. Reports, does not assert:
 *   node bench/store-throughput.ts [entries=2000] [dir=os.tmpdir()]
 * "cpu" is the whole process (all threads, so the worker's too) per entry; "main" is the calling
 * thread's share, the one that also serves HTTP and drives the HSM.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../src/clock.ts';
import { openStore } from '../src/store/store.ts';
import { openWorkerStore } from '../src/store/worker-store.ts';
import { issuedEntry } from '../test/store/store-fixtures.ts';

const total = Number(process.argv[2] ?? 2000);
const baseDir = process.argv[3] ?? os.tmpdir();

async function measure(callers: number, onWorker = false): Promise<void> {
  const dir = fs.mkdtempSync(path.join(baseDir, 'jitca-throughput-'));
  const sqlitePath = path.join(dir, 'jitca.db');
  const store = onWorker ? await openWorkerStore({ sqlitePath }) : await openStore({ sqlitePath, clock: systemClock });
  const cpuBefore = process.cpuUsage();
  // process.threadCpuUsage needs Node >= 23.9; on older Node the main-thread share is not shown.
  const threadCpu = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage.bind(process) : undefined;
  const mainBefore = threadCpu?.();
  try {
    let next = 0;
    const latencies: number[] = [];
    const caller = async (): Promise<void> => {
      for (let i = next++; i < total; i = next++) {
        const started = performance.now();
        await store.recordDecision(issuedEntry(`req-${callers}-${i}`));
        latencies.push(performance.now() - started);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: callers }, caller));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const main = threadCpu?.(mainBefore);
    latencies.sort((a, b) => a - b);
    const pct = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(2);
    const stats = store.stats();
    const verified = await store.verifyAudit();
    console.log(
      `${onWorker ? 'worker' : 'inline'} ${String(callers).padStart(3)} callers: ${total} entries in ${seconds.toFixed(2)} s = ${(total / seconds).toFixed(0)}/s; ` +
        `commits ${stats.commits} (avg batch ${(stats.entriesCommitted / stats.commits).toFixed(1)}, max ${stats.largestBatch}); ` +
        `latency p50 ${pct(0.5)} ms p99 ${pct(0.99)} ms; cpu ${((cpu.user + cpu.system) / total).toFixed(0)} us/entry ` +
        `(main ${main === undefined ? 'n/a' : ((main.user + main.system) / total).toFixed(0)}); chain ok=${verified.ok}`,
    );
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`recordDecision throughput, SQLite WAL synchronous=FULL, dir ${baseDir}, node ${process.version}`);
for (const onWorker of [false, true]) {
  for (const callers of [1, 8, 200]) await measure(callers, onWorker);
}
