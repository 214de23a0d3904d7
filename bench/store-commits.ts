/** The store's group-commit counters from a running server's /metrics (jitca_store_*_total). */
export interface StoreCommits {
  commits: number;
  entries: number;
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
  return commits === undefined || entries === undefined ? undefined : { commits, entries };
}

/** "N commits for M entries: E entries per commit (one fsync each)", or why it is unknown. */
export function entriesPerCommit(before: StoreCommits | undefined, after: StoreCommits | undefined): string {
  if (before === undefined || after === undefined) return 'unknown (no jitca_store_* counters on /metrics)';
  const commits = after.commits - before.commits;
  const entries = after.entries - before.entries;
  return `${commits} commits for ${entries} entries: ${commits === 0 ? 'n/a' : (entries / commits).toFixed(1)} entries per commit (one fsync each)`;
}
