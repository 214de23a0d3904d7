/**
 * Coverage-free, structure-aware fuzzing of jitca's parsers of hostile input: SSH public keys,
 * SSH certificates, KRLs, the DER reader, PKCS#10 requests and the bearer-token checks around jose
 * (test/fuzz/*-targets.ts). A case fails when the parser throws anything but its refusal error
 * (JitcaError; DerError for the raw DER reader), takes over a second, or accepts an input that does
 * not re-encode to the same bytes.
 *
 *   ./scripts/node node bench/fuzz.ts [--cases N] [--seed S] [--only <name substring>]
 *
 * N defaults to 1,000,000 per parser. Exits 1 when any case failed, printing the first inputs.
 */
import { parseArgs } from 'node:util';
import { runFuzzTarget, type FuzzReport } from '../test/fuzz/run.ts';
import { fuzzTargets } from '../test/fuzz/targets.ts';
import { machineLine } from './references.ts';

const { values } = parseArgs({
  options: { cases: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '1' }, only: { type: 'string' } },
});
const cases = Number(values.cases);
const seed = Number(values.seed);
if (!Number.isSafeInteger(cases) || cases < 1 || !Number.isSafeInteger(seed)) throw new Error('--cases and --seed take positive integers');

console.log(machineLine());
console.log(`${cases.toLocaleString('en-US')} cases per parser, seed ${seed}`);
const { targets, close } = await fuzzTargets();
const reports: FuzzReport[] = [];
try {
  for (const target of targets) {
    if (values.only !== undefined && !target.name.toLowerCase().includes(values.only.toLowerCase())) continue;
    const report = await runFuzzTarget(target, { cases, seed });
    reports.push(report);
    console.log(
      `${report.name.padEnd(16)} ${report.cases.toLocaleString('en-US').padStart(10)} cases  ${Math.round(report.casesPerSecond).toLocaleString('en-US').padStart(7)} cases/s  ` +
        `accepted ${report.accepted.toLocaleString('en-US').padStart(8)}  slowest ${report.slowestMs.toFixed(1).padStart(6)} ms  failures ${report.failureCount}`,
    );
    for (const failure of report.failures.slice(0, 5)) {
      console.log(`  case ${failure.case} ${failure.reason}: ${failure.error}\n    input ${failure.input.slice(0, 600)}`);
    }
  }
} finally {
  await close();
}
process.exitCode = reports.some((report) => report.failureCount > 0) ? 1 : 0;
