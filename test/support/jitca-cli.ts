import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

/** The repository's `bin/jitca`. */
export const JITCA_BIN = path.resolve(import.meta.dirname, '../../bin/jitca');

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `bin/jitca` and resolves with its exit status and output, failing or not (async: tests may run several at once). */
export async function runJitca(args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(JITCA_BIN, args, { encoding: 'utf8', timeout: 30_000 });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { status: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}
