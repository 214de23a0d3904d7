/**
 * List + watch of CertificateSigningRequests into a local cache, in the manner of client-go's
 * reflector (the API conventions' "Efficient detection of changes"):
 *
 * - list, remember the list's resourceVersion, then watch from it with bookmarks;
 * - every event moves the remembered resourceVersion forward, so a stream that ends (server
 *   timeout, dropped connection, apiserver restart) resumes from where it was, without a re-list;
 * - a 410 (ERROR event with code 410, or HTTP 410: "too old resource version", the history was
 *   compacted) throws the resourceVersion away and lists again; objects that vanished meanwhile
 *   are reported deleted;
 * - failures (connection refused, 5xx, 403) retry after exponential backoff with jitter and a cap;
 *   a clean end of a watch that delivered something resumes at once.
 *
 * client-node's own ListWatch stops for good on a list or connection error and has no jitter,
 * hence this loop.
 */
import { createBackoff, sleep, type BackoffOptions } from './backoff.ts';
import { isExpired, type Csr, type CsrApi, type WatchEventType } from './kube-client.ts';
import { describeError, type ControllerLogger } from './logger.ts';
import type { JitcaError } from '../errors.ts';

export type CsrChange = { type: 'upsert'; csr: Csr } | { type: 'delete'; csr: Csr };

export interface CsrInformerOptions {
  api: CsrApi;
  logger: ControllerLogger;
  onChange: (change: CsrChange) => void;
  backoff?: BackoffOptions;
  /** Server-side watch timeout, seconds: a random value in this range per watch (client-go: 5-10 min). */
  watchTimeoutSeconds?: { min: number; max: number };
  random?: () => number;
}

export interface CsrInformerStats {
  lists: number;
  /** Re-lists caused by 410 Expired/Gone. */
  expiredRelists: number;
  watches: number;
  /** Watches that ended with an error (dropped connection, HTTP error). */
  watchFailures: number;
  resourceVersion: string;
}

export interface CsrInformer {
  start(): void;
  stop(): Promise<void>;
  get(name: string): Csr | undefined;
  list(): Csr[];
  /** Resolves after the first successful list has been delivered. */
  synced(): Promise<void>;
  stats(): CsrInformerStats;
}

interface WatchOutcome {
  expired: boolean;
  error: JitcaError | undefined;
  events: number;
  startedAt: number;
}

/** A watch that ends cleanly after at least this long was a normal server-side timeout. */
const HEALTHY_WATCH_MS = 5000;

export function createCsrInformer(options: CsrInformerOptions): CsrInformer {
  const cache = new Map<string, Csr>();
  const backoff = createBackoff(options.backoff);
  const random = options.random ?? Math.random;
  const timeouts = options.watchTimeoutSeconds ?? { min: 300, max: 600 };
  const stats: CsrInformerStats = { lists: 0, expiredRelists: 0, watches: 0, watchFailures: 0, resourceVersion: '' };
  const stopping = new AbortController();
  let running: Promise<void> | undefined;
  let abortWatch: (() => void) | undefined;
  let markSynced: () => void = () => undefined;
  const syncedOnce = new Promise<void>((resolve) => {
    markSynced = resolve;
  });

  function nameOf(csr: Csr): string {
    return csr.metadata?.name ?? '';
  }

  async function relist(): Promise<boolean> {
    try {
      const { items, resourceVersion } = await options.api.list();
      stats.lists += 1;
      const seen = new Set<string>();
      for (const csr of items) {
        const name = nameOf(csr);
        seen.add(name);
        cache.set(name, csr);
        options.onChange({ type: 'upsert', csr });
      }
      for (const [name, csr] of [...cache]) {
        if (seen.has(name)) continue;
        cache.delete(name);
        options.onChange({ type: 'delete', csr });
      }
      stats.resourceVersion = resourceVersion;
      backoff.reset();
      markSynced();
      return true;
    } catch (error) {
      const delay = backoff.next();
      options.logger.warn({ ...describeError(error), retryInMs: delay }, 'listing CertificateSigningRequests failed');
      await sleep(delay, stopping.signal);
      return false;
    }
  }

  function watchOnce(resourceVersion: string): Promise<WatchOutcome> {
    return new Promise<WatchOutcome>((resolve) => {
      const outcome: WatchOutcome = { expired: false, error: undefined, events: 0, startedAt: Date.now() };
      let settled = false;
      const finish = (error: JitcaError | undefined): void => {
        if (settled) return;
        settled = true;
        abortWatch = undefined;
        outcome.error = error;
        if (isExpired(error)) outcome.expired = true;
        resolve(outcome);
      };
      const onEvent = (type: WatchEventType, object: unknown): void => {
        if (type === 'ERROR') {
          const code = (object as { code?: unknown } | null)?.code;
          if (code === 410) outcome.expired = true;
          else options.logger.warn({ status: code }, 'watch of CertificateSigningRequests reported an error');
          return;
        }
        const rv = (object as Csr | undefined)?.metadata?.resourceVersion;
        if (object === undefined || typeof rv !== 'string') return;
        outcome.events += 1;
        stats.resourceVersion = rv;
        backoff.reset();
        if (type === 'BOOKMARK') return;
        const csr = object as Csr;
        if (type === 'DELETED') {
          cache.delete(nameOf(csr));
          options.onChange({ type: 'delete', csr });
        } else {
          cache.set(nameOf(csr), csr);
          options.onChange({ type: 'upsert', csr });
        }
      };
      const timeoutSeconds = Math.round(timeouts.min + random() * (timeouts.max - timeouts.min));
      stats.watches += 1;
      options.api
        .watch(resourceVersion, timeoutSeconds, { onEvent, onClose: finish })
        .then((handle) => {
          if (settled) return;
          abortWatch = () => handle.abort();
          if (stopping.signal.aborted) handle.abort();
        })
        .catch((error: unknown) => finish(error as JitcaError));
    });
  }

  async function loop(): Promise<void> {
    let listed = false;
    while (!stopping.signal.aborted) {
      if (!listed) {
        listed = await relist();
        continue;
      }
      const outcome = await watchOnce(stats.resourceVersion);
      if (stopping.signal.aborted) return;
      if (outcome.expired) {
        // The resourceVersion fell out of the apiserver's window: only a new list is consistent.
        stats.expiredRelists += 1;
        options.logger.info({ resourceVersion: stats.resourceVersion }, 'watch resourceVersion expired (410); listing again');
        listed = false;
        continue;
      }
      const healthy = outcome.events > 0 || Date.now() - outcome.startedAt >= HEALTHY_WATCH_MS;
      if (outcome.error !== undefined || !healthy) {
        if (outcome.error !== undefined) stats.watchFailures += 1;
        const delay = backoff.next();
        options.logger.info(
          { ...(outcome.error === undefined ? {} : describeError(outcome.error)), resourceVersion: stats.resourceVersion, retryInMs: delay },
          'watch of CertificateSigningRequests ended; resuming from the last resourceVersion',
        );
        await sleep(delay, stopping.signal);
      }
    }
  }

  return {
    start(): void {
      running ??= loop();
    },
    async stop(): Promise<void> {
      stopping.abort();
      abortWatch?.();
      await running;
    },
    get: (name) => cache.get(name),
    list: () => [...cache.values()],
    synced: () => syncedOnce,
    stats: () => ({ ...stats }),
  };
}
