import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

/** One look at the server process and its store. */
export interface Sample {
  /** Seconds since the soak started. */
  at: number;
  rssMiB: number;
  heapUsedMiB: number;
  /** The store's worker thread has its own V8 heap, which nodejs_heap_* leaves out (issue 12). */
  storeThreadHeapMiB: number;
  /** Event-loop delay over the interval since the previous sample (prom-client resets it per scrape). */
  eventLoopP99Ms: number;
  openFds: number;
  /** Descriptors that are not sockets (files, pipes, eventfds): the HTTP connections vary with load. */
  nonSocketFds: number;
  dbMiB: number;
  walMiB: number;
  auditRecords: number;
}

export const SAMPLED: Array<[keyof Omit<Sample, 'at'>, string]> = [
  ['rssMiB', 'RSS (MiB)'],
  ['heapUsedMiB', 'heap used (MiB)'],
  ['storeThreadHeapMiB', 'store thread heap used (MiB)'],
  ['eventLoopP99Ms', 'event-loop delay p99 (ms)'],
  ['openFds', 'open file descriptors'],
  ['nonSocketFds', 'open descriptors other than sockets'],
  ['dbMiB', 'SQLite db (MiB)'],
  ['walMiB', 'SQLite -wal (MiB)'],
  ['auditRecords', 'audit records'],
];

const MiB = 1024 * 1024;

/** The server's RSS and descriptors from /proc, heap and event-loop delay from its own /metrics. */
export async function takeSample(at: number, pid: number, url: string, sqlitePath: string): Promise<Sample> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const metric = (name: string): number => Number(new RegExp(`^${name} ([0-9.eE+-]+)`, 'm').exec(metrics)?.[1] ?? Number.NaN);
  const size = (file: string): number => (statSync(file, { throwIfNoEntry: false })?.size ?? 0) / MiB;
  return {
    at,
    rssMiB: rssKiB / 1024,
    heapUsedMiB: metric('nodejs_heap_size_used_bytes') / MiB,
    storeThreadHeapMiB: metric('jitca_store_thread_heap_bytes\\{kind="used"\\}') / MiB,
    eventLoopP99Ms: metric('nodejs_eventloop_lag_p99_seconds') * 1000,
    ...descriptors(pid),
    dbMiB: size(sqlitePath),
    walMiB: size(`${sqlitePath}-wal`),
    auditRecords: auditStats(sqlitePath).records,
  };
}

function descriptors(pid: number): { openFds: number; nonSocketFds: number } {
  const fds = readdirSync(`/proc/${pid}/fd`);
  let sockets = 0;
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets += 1;
    } catch {
      // closed between the listing and the look
    }
  }
  return { openFds: fds.length, nonSocketFds: fds.length - sockets };
}

/** Records and their stored bytes (the columns a record fills), read-only beside the server (WAL). */
export function auditStats(sqlitePath: string, withBytes = false): { records: number; bytes: number } {
  const db = new Database(sqlitePath, { readonly: true });
  try {
    const records = (db.prepare('select coalesce(max(seq), 0) as n from audit_log').get() as { n: number }).n;
    if (!withBytes) return { records, bytes: Number.NaN };
    const bytes = (
      db
        .prepare(
          'select coalesce(sum(length(at) + length(type) + length(actor) + coalesce(length(subject), 0) + coalesce(length(request_id), 0) + length(data) + length(prev_hash) + length(hash)), 0) as n from audit_log',
        )
        .get() as { n: number }
    ).n;
    return { records, bytes };
  } finally {
    db.close();
  }
}

/** Least-squares slope of y over x, and the mean of y. */
export function leastSquares(points: Array<[number, number]>): { slope: number; mean: number } {
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return { slope: variance === 0 ? Number.NaN : covariance / variance, mean: meanY };
}
