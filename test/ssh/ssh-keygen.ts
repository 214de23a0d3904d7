import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A temp directory removed by the returned cleanup. */
export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `jitca-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs a POSIX shell script once (many ssh-keygen calls in one process spawn keeps the suite fast
 * and parallel-friendly). TZ=UTC makes ssh-keygen -L print validity in UTC.
 */
export async function sh(script: string, cwd: string): Promise<string> {
  const { stdout } = await execFileAsync('sh', ['-ec', script], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', LC_ALL: 'C' },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/** Splits output framed by "==name==" marker lines into sections. */
export function sections(output: string): Map<string, string> {
  const result = new Map<string, string>();
  let current: string | undefined;
  for (const line of output.split('\n')) {
    const marker = /^==(.+)==$/.exec(line);
    if (marker?.[1] !== undefined) {
      current = marker[1];
      result.set(current, '');
    } else if (current !== undefined) {
      result.set(current, `${result.get(current) ?? ''}${line}\n`);
    }
  }
  return result;
}

/** Formats epoch seconds the way ssh-keygen -L does under TZ=UTC (YYYY-MM-DDTHH:MM:SS). */
export function sshKeygenTime(seconds: bigint): string {
  return new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
}
