/**
 * A rotator in its own process for the crash tests (test/rotation/rotation-crash.test.ts):
 * `node rotation-child.ts <configFile> <clockMs> <killAt>` runs `apply` on the ssh-user CA with
 * the schedule's clock fixed at clockMs (what a rotator started after a crash does: finish what
 * was cut short, take what is due), prints what the store and the key manager then hold as one
 * JSON line, then runs `apply --force` three times. It SIGKILLs itself at the first killAt
 * ("key-generated" or "<step>-recorded"; "none": never), wherever that comes.
 */
import path from 'node:path';
import { openCaRuntime } from '../../src/ca-runtime.ts';
import { fixedClock } from '../../src/clock.ts';
import { buildConfig } from '../../src/config.ts';
import { rotationEngineFor } from '../../rotation/rotation-composition.ts';

const [configFile, clockMs, killAt] = process.argv.slice(2) as [string, string, string];
const config = buildConfig({ configFile, dataDir: path.dirname(configFile) });
const runtime = await openCaRuntime(config, fixedClock(Number(clockMs)));
const engine = rotationEngineFor(runtime, 'crash-test', {
  lockWaitMs: 0,
  onProgress: (point, step) => {
    const name = point === 'key-generated' ? point : `${step.kind}-recorded`;
    if (name === killAt) process.kill(process.pid, 'SIGKILL');
  },
});
const taken = (await engine.apply(['ssh-user'])).map((entry) => entry.step.kind);
const rows = (await runtime.store.listCaGenerations()).filter((row) => row.ca === 'ssh-user');
const keys = runtime.keys.list(config.ssh.caName).map((key) => key.generation);
// A pipe write is synchronous on Linux: the line is out before any kill below.
process.stdout.write(`${JSON.stringify({ taken, rows: rows.map((row) => `${row.generation}:${row.state}`), keys })}\n`);
for (let round = 0; round < 3; round++) await engine.apply(['ssh-user'], { force: true });
await runtime.close();
