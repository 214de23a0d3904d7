import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { openConfiguredStore } from '../ca-runtime.ts';
import { systemClock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Store } from '../store/types.ts';
import { configFrom } from './config-from.ts';

/**
 * Runs `work` on the configured store (SQLite or PostgreSQL) alone, never the HSM, and closes it:
 * for commands that need no signature (audit, revoke), so they run without the PIN. Not in
 * common.ts, which every command loads: kube-credential must not pull in the store and HSM code.
 */
export async function withConfiguredStore(command: Command, work: (store: Store) => Promise<void>): Promise<void> {
  const config = await configFrom(command);
  // Opening creates a missing SQLite file: a mistyped --data-dir would then "verify" an empty,
  // intact log (exit 0) or revoke into a database nothing serves. These commands work on the CA's
  // existing store only.
  if (config.store.postgresUrl === undefined && !existsSync(config.store.sqlitePath)) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `no jitca database at ${config.store.sqlitePath}: check --data-dir/--config, or run jitca init`, {
      details: { sqlitePath: config.store.sqlitePath },
    });
  }
  const store = await openConfiguredStore(config, systemClock);
  try {
    await work(store);
  } finally {
    await store.close();
  }
}
