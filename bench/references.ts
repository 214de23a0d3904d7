import { execFileSync, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import path from 'node:path';

/**
 * `ssh-keygen -s` in a bash loop, as an operator script would run it: bounded by time and count.
 * One process per certificate and nothing else (it overwrites loop_user-cert.pub each time): an
 * extra `cp` per iteration, as this loop once had, made the reference about a quarter slower and
 * flattered every ratio against it.
 */
export function measureSshKeygenLoop(dir: string, budgetSeconds: number): { perSecond: number; count: number } {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'file_ca')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'loop_user')]);
  const script = `
    cd "${dir}"; n=0; end=$((SECONDS + ${budgetSeconds}))
    while [ $SECONDS -lt $end ] && [ $n -lt 5000 ]; do
      ssh-keygen -q -s file_ca -I "alice/$n" -n oncall-payments -V -1m:+10m -z $((n + 1)) loop_user.pub || exit 1
      n=$((n + 1))
    done
    echo $n`;
  const started = performance.now();
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  const elapsed = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`ssh-keygen loop failed: ${result.stderr}`);
  const count = Number(result.stdout.trim());
  return { perSecond: count / elapsed, count };
}

export function machineLine(): string {
  return `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`;
}

/** The one auto-approved on-call role both issuance benchmarks use (policy file format). */
export const benchPolicy = {
  version: 1,
  extensionDomain: 'jitca.dev',
  roles: [
    {
      name: 'oncall-payments',
      groups: ['oncall-payments'],
      principals: ['oncall-payments'],
      maxTtlSeconds: 1800,
      scope: { clusters: ['prod'], namespaces: ['payments'] },
      commands: ['kubectl logs'],
      extensions: ['permit-pty'],
      approval: { mode: 'auto' },
    },
  ],
};

/**
 * The load generators connect from one address (loopback) with up to 512 requests in flight
 * (bench/open-loop.ts): more than the default per-address cap, which is for clients, not for a
 * bench standing in for many of them.
 */
export const benchConnectionLimits = { maxConnections: 2048, maxConnectionsPerAddress: 2048 };

/** `--name N` from the command line, a positive number, or `fallback`. */
export function numberOption(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at === -1 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

/** Polls `jitca serve`'s /readyz every 100 ms; throws when it is not ready within `seconds`. */
export async function waitUntilReady(url: string, seconds: number): Promise<void> {
  for (let attempt = 0; attempt < seconds * 10; attempt++) {
    if (await fetch(`${url}/readyz`).then((response) => response.ok, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`jitca serve did not become ready in ${seconds} s`);
}
