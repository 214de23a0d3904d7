import type { Command } from 'commander';
import { isJitcaError, ErrorCodes, type ErrorCode } from '../errors.ts';
import { forCommandLine } from './command-line-wording.ts';

/** Exit codes: 1 failure, 2 refused input or policy, 3 a part (HSM, database) is unavailable. */
const exitCodeByError: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.HSM_UNAVAILABLE]: 3,
  [ErrorCodes.STORE_UNAVAILABLE]: 3,
};

/** Prints "jitca: CODE: message" (never a stack, never a secret) and exits with a stable code. */
export function reportAndExit(error: unknown): never {
  if (isJitcaError(error)) {
    const rule = typeof error.details?.['rule'] === 'string' ? ` [rule ${error.details['rule']}]` : '';
    process.stderr.write(`jitca: ${error.code}: ${forCommandLine(error.message, error.details?.['rule'])}${rule}\n`);
    process.exit(exitCodeByError[error.code] ?? 2);
  }
  process.stderr.write(`jitca: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Long-running commands stop cleanly (close listeners, then the token and store) on SIGINT/SIGTERM. */
export function stopOnSignals(stop: () => Promise<void>): void {
  const once = (): void => void stop();
  process.once('SIGINT', once);
  process.once('SIGTERM', once);
}
