import { isJitcaError } from '../../src/errors.ts';

/** The JitcaError code `run` throws; undefined when it returns; a telling text for any other throw. */
export function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return describeThrown(error);
  }
  return undefined;
}

/** The same for a promise: the code it rejects with, or undefined when it resolves. */
export async function codeOfAsync(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return describeThrown(error);
  }
  return undefined;
}

function describeThrown(error: unknown): string {
  return isJitcaError(error) ? error.code : `not a JitcaError: ${String(error)}`;
}
