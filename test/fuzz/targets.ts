/**
 * Every fuzz target with its seeds, built once: what bench/fuzz.ts runs a million times each and
 * test/fuzz/parsers.test.ts a few thousand times each.
 */
import { fidoBlobTarget, pivSlotTarget } from './attestation-targets.ts';
import { jwtSeeds, jwtTarget } from './jwt-targets.ts';
import type { FuzzTarget } from './run.ts';
import { certificateTarget, krlTarget, publicKeyTarget, sshSeeds } from './ssh-targets.ts';
import { csrTarget, derTarget, x509Seeds } from './x509-targets.ts';

export interface FuzzTargets {
  targets: Array<FuzzTarget<never>>;
  /** Stops the JWKS server the JWT target uses. */
  close(): Promise<void>;
}

export async function fuzzTargets(): Promise<FuzzTargets> {
  const ssh = await sshSeeds();
  const x509 = x509Seeds();
  const jwt = await jwtSeeds();
  const targets = [publicKeyTarget(ssh), certificateTarget(ssh), krlTarget(ssh), derTarget(x509), csrTarget(x509), jwtTarget(jwt), fidoBlobTarget(), pivSlotTarget()];
  return { targets: targets as Array<FuzzTarget<never>>, close: jwt.close };
}
