import { Counter, type Registry } from 'prom-client';
import type { StoreStats } from '../store/types.ts';

/**
 * The store's group commit, as counters: every commit is one fsync, so entries per commit is the
 * number that says whether durable writes are being shared (issue 16: the store's CPU per
 * certificate falls with it). Read from this process's store at scrape time.
 */
export function registerStoreCommitMetrics(registry: Registry, stats: () => StoreStats): void {
  const counter = (name: string, help: string, read: (current: StoreStats) => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(stats()));
      },
    });
  };
  counter('jitca_store_commits_total', 'Transactions the store committed, one fsync each (group commits)', (s) => s.commits);
  counter('jitca_store_entries_committed_total', 'Entries (decisions, audit events) made durable by those commits', (s) => s.entriesCommitted);
  counter('jitca_store_rollbacks_total', 'Batches rolled back whole because the database failed', (s) => s.rollbacks);
}
