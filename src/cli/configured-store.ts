import type { Command } from 'commander';
import { openConfiguredStore } from '../ca-runtime.ts';
import { systemClock } from '../clock.ts';
import type { Store } from '../store/types.ts';
import { configFrom } from './common.ts';

/**
 * Runs `work` on the configured store (SQLite or PostgreSQL) alone, never the HSM, and closes it:
 * for commands that need no signature (audit, revoke), so they run without the PIN. Not in
 * common.ts, which every command loads: kube-credential must not pull in the store and HSM code.
 */
export async function withConfiguredStore(command: Command, work: (store: Store) => Promise<void>): Promise<void> {
  const store = await openConfiguredStore(configFrom(command), systemClock);
  try {
    await work(store);
  } finally {
    await store.close();
  }
}
