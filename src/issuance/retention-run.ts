import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { writeFileDurably } from '../durable-file.ts';
import { canonicalJson } from '../store/canonical-json.ts';
import type { RetiredRequest, Store } from '../store/types.ts';

export interface RetentionOptions {
  store: Pick<Store, 'listRetired' | 'recordRetention'>;
  clock: Clock;
  /** Rows are removed this many days after the request's certificate expired (config retention.daysAfterExpiry). */
  daysAfterExpiry: number;
  /** Where each batch's JSON Lines file is written before its rows are removed. */
  exportDir: string;
  /** Requests per batch: one export file and one transaction each (1..1000). */
  batchSize: number;
  actor: string;
}

export interface RetentionResult {
  requests: number;
  files: string[];
}

const DAY_MS = 86_400_000;

/**
 * One retention run: batch by batch, oldest first, the rows of requests past retention are written
 * to `retention-<first request id>.jsonl` (one canonical-JSON line per request with its
 * certificate, approvals and revocation), the file made durable, and only then the rows removed
 * with a `retention.pruned` audit record naming the file and its SHA-256, in one transaction.
 *
 * Safe to kill at any point: killed before a batch's transaction commits, the rows are all still
 * there and the next run starts from the same oldest request, so it writes the same file name
 * again (atomically, replacing the first attempt) before removing them; killed after, that batch
 * is done. A file's rows are removed only once the file is on disk. The audit log is not touched:
 * its records of these requests stay, and keep verifying.
 */
export async function runRetention(options: RetentionOptions): Promise<RetentionResult> {
  const before = new Date(options.clock.now() - options.daysAfterExpiry * DAY_MS).toISOString();
  const files: string[] = [];
  let requests = 0;
  for (;;) {
    const batch = await options.store.listRetired(before, options.batchSize);
    const first = batch[0];
    if (first === undefined) break;
    const name = `retention-${first.request.id}.jsonl`;
    const content = batch.map((retired) => `${exportLine(retired)}\n`).join('');
    writeFileDurably(path.join(options.exportDir, name), content);
    await options.store.recordRetention({
      requestIds: batch.map((retired) => retired.request.id),
      event: {
        type: 'retention.pruned',
        actor: options.actor,
        data: {
          file: name,
          sha256: createHash('sha256').update(content).digest('hex'),
          requests: batch.length,
          certificates: batch.filter((retired) => retired.certificate !== undefined).length,
          createdBefore: before,
          daysAfterExpiry: options.daysAfterExpiry,
        },
      },
    });
    files.push(name);
    requests += batch.length;
  }
  return { requests, files };
}

/** One request's rows as one line: canonical JSON (RFC 8785), as `audit export` writes records. */
export function exportLine(retired: RetiredRequest): string {
  return canonicalJson({
    request: retired.request,
    certificate: retired.certificate ?? null,
    approvals: retired.approvals,
    revocation: retired.revocation ?? null,
  });
}
