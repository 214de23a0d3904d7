import { expect } from 'vitest';
import { isJitcaError, type ErrorCode, type JitcaError } from '../../src/errors.ts';

/**
 * Asserts the promise rejects with a JitcaError of `code`, and that neither its message nor its
 * details echo the token (or its signature segment): tokens must never reach logs or clients.
 */
export async function expectAuthnError(promise: Promise<unknown>, code: ErrorCode, token?: string): Promise<JitcaError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(isJitcaError(caught), `expected a JitcaError ${code}, got ${String(caught)}`).toBe(true);
  const error = caught as JitcaError;
  expect(error.code).toBe(code);
  if (token !== undefined) {
    const shown = `${error.message} ${JSON.stringify(error.details ?? {})}`;
    for (const part of token.split('.').filter((segment) => segment.length >= 16)) {
      expect(shown.includes(part)).toBe(false);
    }
  }
  return error;
}

export function expectAuthnErrorSync(run: () => unknown, code: ErrorCode): JitcaError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(isJitcaError(caught), `expected a JitcaError ${code}, got ${String(caught)}`).toBe(true);
  expect((caught as JitcaError).code).toBe(code);
  return caught as JitcaError;
}
