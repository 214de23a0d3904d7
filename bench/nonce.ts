/**
 * The SSH certificate nonce: one randomFillSync per certificate against a draw from the pooled
 * block (src/ssh/random-pool.ts), event-loop CPU per 32-byte nonce, alternating in one process.
 * Run: ./scripts/node node bench/nonce.ts [draws=200000]
 */
import { randomFillSync } from 'node:crypto';
import { freshRandomBytes } from '../src/ssh/random-pool.ts';
import { machineLine } from './references.ts';

const draws = Number(process.argv[2] ?? 200_000);
const threadCpu = (): number => {
  const usage = process.threadCpuUsage();
  return usage.user + usage.system;
};

console.log(machineLine());
for (let round = 1; round <= 3; round += 1) {
  let started = threadCpu();
  for (let i = 0; i < draws; i += 1) randomFillSync(new Uint8Array(32));
  const direct = (threadCpu() - started) / draws;
  started = threadCpu();
  for (let i = 0; i < draws; i += 1) freshRandomBytes(32);
  const pooled = (threadCpu() - started) / draws;
  console.log(`round ${round}: randomFillSync ${direct.toFixed(2)} µs per nonce, pooled block ${pooled.toFixed(2)} µs`);
}
