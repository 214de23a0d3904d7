/**
 * The session runner cuts an open session at the certificate's expiry and on revocation, with real
 * child processes (a few seconds at most; each test is bounded by its own timeout, not timed).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runSession } from '../../src/gateway/session-runner.ts';

const env = { PATH: '/usr/bin:/bin' };

/**
 * True while `pid` runs. A killed process whose parent (sh) is gone waits as a zombie until init
 * reaps it, which on a loaded machine can take seconds; kill(pid, 0) still succeeds on a zombie,
 * so its state is read from /proc (Linux) instead.
 */
function isRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

describe('runSession', () => {
  it('returns the exit status of a session that ends by itself', async () => {
    const end = await runSession({ argv: ['sh', '-c', 'exit 3'], env, stdio: 'ignore', endsAt: Date.now() + 60_000, isRevoked: () => false, pollMs: 1000 });
    expect(end).toEqual({ reason: 'exited', code: 3, signal: null });
  });

  it("cuts a session still open at the certificate's expiry, and what it started with it", async () => {
    // sh waits on a background sleep and reports its pid: a signal to sh alone would leave it running.
    let output = '';
    const ended = runSession({ argv: ['sh', '-c', 'sleep 60 & echo $!; wait'], env, stdio: ['ignore', 'pipe', 'ignore'], endsAt: Date.now() + 500, isRevoked: () => false, pollMs: 10_000, graceMs: 500, onStart: (child) => child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString())) });
    expect(await ended).toEqual({ reason: 'expired' });
    const backgroundPid = Number(output.trim());
    expect(backgroundPid).toBeGreaterThan(0);
    // Bounded wait for it to end (SIGTERM, then SIGKILL after graceMs).
    let alive = true;
    for (let attempt = 0; attempt < 40 && alive; attempt++) {
      alive = isRunning(backgroundPid);
      if (alive) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(alive).toBe(false);
  }, 10_000);

  it('cuts a session once the certificate is revoked, and when the revocation list cannot be read', async () => {
    let polls = 0;
    const revoked = await runSession({
      argv: ['sleep', '60'],
      env,
      stdio: 'ignore',
      endsAt: Date.now() + 60_000,
      isRevoked: () => ++polls >= 2,
      pollMs: 100,
      graceMs: 500,
    });
    expect(revoked).toEqual({ reason: 'revoked' });
    expect(polls).toBe(2);
    const unreadable = await runSession({
      argv: ['sleep', '60'],
      env,
      stdio: 'ignore',
      endsAt: Date.now() + 60_000,
      isRevoked: () => {
        throw new Error('KRL unreadable');
      },
      pollMs: 100,
      graceMs: 500,
    });
    expect(unreadable).toEqual({ reason: 'revoked' });
  }, 10_000);
});
