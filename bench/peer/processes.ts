import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * The servers the peer bench starts, each stopped by its own pid: at the end of its phase, when the
 * bench fails, and (a backstop) when the bench process exits or is interrupted; its work directory
 * likewise. Nothing is left running or on disk behind a failed or interrupted run.
 */
export interface ServerProcess {
  pid: number;
  /** Polls `check` every 100 ms for at most `seconds`; throws (with the server's last stderr) if it never holds or the server exits. */
  waitUntil(check: () => Promise<boolean>, seconds: number): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const directories = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  });
  // process.exit runs the 'exit' hook above; the bench's finally blocks do not run on a signal.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
}

/** A directory removed when the bench exits, however it exits (its servers' tokens, keys and stores). */
export function removeOnExit(dir: string): void {
  hookExit();
  directories.add(dir);
}

/** The last few KB of a server's stderr, for the error when it fails to start. */
const STDERR_TAIL = 4096;

export function spawnTracked(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): ServerProcess {
  hookExit();
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  return {
    pid: child.pid,
    async waitUntil(check, seconds) {
      for (let attempt = 0; attempt < seconds * 10; attempt++) {
        if (child.exitCode !== null || child.signalCode !== null) break;
        if (await check()) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`${name} did not become ready in ${seconds} s (exit ${child.exitCode ?? child.signalCode ?? 'none'}):\n${stderr}`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
