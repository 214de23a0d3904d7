/**
 * The fuzz loop shared by bench/fuzz.ts (1,000,000 cases per parser) and test/fuzz (a few thousand
 * in CI). A case fails when the parser throws anything but its refusal error (a JitcaError), takes
 * over a second, or accepts an input that does not re-encode to the same bytes.
 */
import fc from 'fast-check';
import { isJitcaError } from '../../src/errors.ts';

export interface FuzzTarget<T> {
  name: string;
  /** Mutated real inputs and structure-aware generated ones. */
  input: fc.Arbitrary<T>;
  /** Parses the input; returns whether it was accepted; throws OracleFailure on a round-trip mismatch. */
  check(input: T): boolean | Promise<boolean>;
  /** The error a refusal is (JitcaError unless the reader has its own, like DerError). */
  isRefusal?(error: unknown): boolean;
  /** The input as a reproducible one-liner (hex or JSON) for a failure report. */
  show(input: T): string;
}

/** An accepted input that does not re-encode to itself. */
export class OracleFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OracleFailure';
  }
}

export interface FuzzFailure {
  case: number;
  reason: 'exception' | 'oracle' | 'slow';
  error: string;
  input: string;
}

export interface FuzzReport {
  name: string;
  cases: number;
  accepted: number;
  failures: FuzzFailure[];
  /** Failures beyond those kept in `failures`. */
  failureCount: number;
  seconds: number;
  casesPerSecond: number;
  slowestMs: number;
}

export interface FuzzOptions {
  cases: number;
  seed?: number;
  /** A case slower than this fails (default 1000 ms). */
  slowMs?: number;
  /** Failures kept with their inputs (default 20); all are counted. */
  keepFailures?: number;
}

const BATCH = 2_000;

export async function runFuzzTarget<T>(target: FuzzTarget<T>, options: FuzzOptions): Promise<FuzzReport> {
  const { cases, seed = 1, slowMs = 1000, keepFailures = 20 } = options;
  const isRefusal = target.isRefusal ?? ((error: unknown) => isJitcaError(error));
  const failures: FuzzFailure[] = [];
  let failureCount = 0;
  let accepted = 0;
  let slowestMs = 0;
  const fail = (failure: FuzzFailure): void => {
    failureCount += 1;
    if (failures.length < keepFailures) failures.push(failure);
  };
  const started = performance.now();
  for (let done = 0, batch = 0; done < cases; batch += 1) {
    const inputs = fc.sample(target.input, { numRuns: Math.min(BATCH, cases - done), seed: seed * 1_000_003 + batch });
    for (const input of inputs) {
      const caseNumber = done;
      done += 1;
      const before = performance.now();
      try {
        const result = target.check(input);
        if (await result) accepted += 1;
      } catch (error) {
        if (error instanceof OracleFailure) {
          fail({ case: caseNumber, reason: 'oracle', error: error.message, input: target.show(input) });
        } else if (!isRefusal(error)) {
          fail({ case: caseNumber, reason: 'exception', error: describeError(error), input: target.show(input) });
        }
      }
      const elapsed = performance.now() - before;
      if (elapsed > slowestMs) slowestMs = elapsed;
      if (elapsed > slowMs) fail({ case: caseNumber, reason: 'slow', error: `${elapsed.toFixed(0)} ms`, input: target.show(input) });
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return { name: target.name, cases, accepted, failures, failureCount, seconds, casesPerSecond: cases / seconds, slowestMs };
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

export function expectSame(what: string, actual: Uint8Array, expected: Uint8Array): void {
  if (!sameBytes(actual, expected)) throw new OracleFailure(`${what} re-encodes differently (${actual.length} vs ${expected.length} bytes)`);
}
