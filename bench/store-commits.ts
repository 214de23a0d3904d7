/** The store's group-commit counters and the GC pause total from a running server's /metrics. */
export interface StoreCommits {
  commits: number;
  entries: number;
  /** The event loop's GC pauses so far (nodejs_gc_duration_seconds, all kinds), in seconds. */
  gcSeconds: number;
}

export async function storeCommits(baseUrl: string): Promise<StoreCommits | undefined> {
  const text = await fetch(`${baseUrl}/metrics`)
    .then((response) => (response.ok ? response.text() : ''))
    .catch(() => '');
  const read = (name: string): number | undefined => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };
  const commits = read('jitca_store_commits_total');
  const entries = read('jitca_store_entries_committed_total');
  const gcSeconds = text
    .split('\n')
    .filter((line) => line.startsWith('nodejs_gc_duration_seconds_sum{'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return commits === undefined || entries === undefined ? undefined : { commits, entries, gcSeconds };
}

/** "N commits for M entries: E entries per commit (one fsync each); GC µs per entry", or why it is unknown. */
export function entriesPerCommit(before: StoreCommits | undefined, after: StoreCommits | undefined): string {
  if (before === undefined || after === undefined) return 'unknown (no jitca_store_* counters on /metrics)';
  const commits = after.commits - before.commits;
  const entries = after.entries - before.entries;
  const gcMicroseconds = entries === 0 ? 0 : ((after.gcSeconds - before.gcSeconds) * 1e6) / entries;
  return (
    `${commits} commits for ${entries} entries: ${commits === 0 ? 'n/a' : (entries / commits).toFixed(1)} entries per commit (one fsync each); ` +
    `event-loop GC pauses ${gcMicroseconds.toFixed(0)} µs per entry`
  );
}
