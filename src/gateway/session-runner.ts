import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

/** How a gateway session ended: by itself, or cut by the gateway. */
export type SessionEnd =
  | { reason: 'exited'; code: number | null; signal: NodeJS.Signals | null }
  | { reason: 'expired' }
  | { reason: 'revoked' };

export interface SessionRunOptions {
  /** The decided argv (session-command.ts); no shell runs it. */
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  stdio?: StdioOptions;
  /** The certificate's valid_before, epoch ms: the session is cut then even if still open. */
  endsAt: number;
  /** Whether the certificate has been revoked since the login; asked every pollMs until the session ends. */
  isRevoked: () => boolean | Promise<boolean>;
  pollMs: number;
  /** Between SIGTERM and SIGKILL when a session is cut (default 2 s). */
  graceMs?: number;
  now?: () => number;
  /** Given the child once spawned (the recorder reads its output here). */
  onStart?: (child: ChildProcess) => void;
}

/**
 * Runs one session command and cuts it at the certificate's expiry or on revocation. sshd's
 * expiry-time= stops new logins after valid_before; an open session is this process's to end. The
 * command runs in a process group of its own so that the cut reaches whatever it started.
 */
export function runSession(options: SessionRunOptions): Promise<SessionEnd> {
  const [command, ...args] = options.argv;
  if (command === undefined) return Promise.reject(new Error('runSession needs an argv'));
  const now = options.now ?? Date.now;
  const child = spawn(command, args, { env: options.env, stdio: options.stdio ?? 'inherit', detached: true });
  options.onStart?.(child);
  return new Promise((resolve, reject) => {
    let cut: SessionEnd | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    const cutFor = (end: SessionEnd): void => {
      if (cut !== undefined) return;
      cut = end;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), options.graceMs ?? 2000);
    };
    const expiry = setTimeout(() => cutFor({ reason: 'expired' }), Math.max(0, options.endsAt - now()));
    let polling = false;
    const poll = setInterval(() => {
      if (polling || cut !== undefined) return;
      polling = true;
      Promise.resolve()
        .then(options.isRevoked)
        .then((revoked) => {
          if (revoked) cutFor({ reason: 'revoked' });
        })
        // A revocation source that cannot be read ends the session: it fails closed, as sshd does.
        .catch(() => cutFor({ reason: 'revoked' }))
        .finally(() => {
          polling = false;
        });
    }, options.pollMs);
    const stop = (): void => {
      clearTimeout(expiry);
      clearInterval(poll);
      if (killTimer !== undefined) clearTimeout(killTimer);
    };
    child.once('error', (error) => {
      stop();
      reject(error);
    });
    // 'close', not 'exit': the output still in the pipes is read (and recorded) first.
    child.once('close', (code, signal) => {
      stop();
      resolve(cut ?? { reason: 'exited', code, signal });
    });
  });
}
