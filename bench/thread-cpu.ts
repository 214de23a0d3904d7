import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (user + system, in clock ticks) per thread name of a process, from /proc (Linux). */
export type ThreadCpu = Map<string, number>;

/** USER_HZ: the unit of utime/stime in /proc/<pid>/task/<tid>/stat; 100 on Linux x86-64. */
const TICKS_PER_SECOND = 100;

export function threadCpu(pid: number): ThreadCpu {
  const byName: ThreadCpu = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    // The name (comm) is in parentheses and may hold spaces; the fields after it are fixed.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    byName.set(name, (byName.get(name) ?? 0) + ticks);
  }
  return byName;
}

/** "name=NNNµs" per thread with any CPU between the two samples, divided over `operations`. */
export function cpuPerOperation(before: ThreadCpu, after: ThreadCpu, operations: number): string {
  const parts: string[] = [];
  let total = 0;
  for (const [name, ticks] of after) {
    const microseconds = (((ticks - (before.get(name) ?? 0)) / TICKS_PER_SECOND) * 1e6) / operations;
    if (microseconds < 1) continue;
    total += microseconds;
    parts.push(`${name} ${microseconds.toFixed(0)}`);
  }
  return `${parts.join(', ')}; total ${total.toFixed(0)} µs`;
}

/** All threads' CPU between the two samples, divided over `operations`, in µs. */
export function totalCpuPerOperation(before: ThreadCpu, after: ThreadCpu, operations: number): number {
  let ticks = 0;
  for (const [name, value] of after) ticks += value - (before.get(name) ?? 0);
  return ((ticks / TICKS_PER_SECOND) * 1e6) / operations;
}
