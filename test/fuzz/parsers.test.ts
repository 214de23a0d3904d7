import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFuzzTarget } from './run.ts';
import { fuzzTargets, type FuzzTargets } from './targets.ts';

/**
 * The short CI run of bench/fuzz.ts: the same targets and oracle, a few thousand cases each with a
 * fixed seed (bench/fuzz.ts runs a million). Each target must also accept some of its inputs, or
 * the round-trip half of the oracle would be checking nothing.
 */
const CASES = 2_500;

let fuzz: FuzzTargets;
beforeAll(async () => {
  fuzz = await fuzzTargets();
}, 30_000);
afterAll(async () => {
  await fuzz?.close();
});

describe('parsers of hostile input, fuzzed', () => {
  for (const name of ['ssh public key', 'ssh certificate', 'ssh KRL', 'DER reader', 'PKCS#10 CSR', 'JWT pre-checks', 'ssh-sk attestation', 'PIV slot attestation']) {
    it(`${name}: only refusals with a code, no slow case, and every accepted input re-encodes to itself`, async () => {
      const target = fuzz.targets.find((candidate) => candidate.name === name);
      expect(target, name).toBeDefined();
      const report = await runFuzzTarget(target!, { cases: CASES, seed: 12 });
      expect(report.failures).toEqual([]);
      expect(report.cases).toBe(CASES);
      expect(report.accepted).toBeGreaterThan(0);
    }, 30_000);
  }
});
