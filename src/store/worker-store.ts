import { Worker } from 'node:worker_threads';
import { storeUnavailable } from './store-errors.ts';
import { createMessageBatcher } from './message-batcher.ts';
import { threadMethods, type StoreWorkerMethod, type ThreadMethod } from './store-methods.ts';
import { deserializeError, type StoreWorkerCall, type StoreWorkerCallMessage, type StoreWorkerReplyMessage } from './store-worker-protocol.ts';
import type { OutboxSink, Store, StoreStats } from './types.ts';

/**
 * The Store on its own thread. better-sqlite3 is synchronous: on the event loop every COMMIT's
 * fsync (synchronous=FULL, about a millisecond here) and every statement stalls all requests and
 * HSM completions. On a worker they overlap with signing, and the certificate is still released
 * only when the worker reports the COMMIT done. Same interface, same semantics, same audit chain;
 * timestamps come from the system clock (an injected test clock needs the in-process openStore).
 */
export async function openWorkerStore(options: { sqlitePath: string; outboxSinks?: readonly OutboxSink[] }): Promise<Store> {
  let stats: StoreStats = { commits: 0, rollbacks: 0, entriesCommitted: 0, largestBatch: 0 };
  let current: StoreThread | undefined;
  let closed = false;
  let lastStart = 0;

  /**
   * The thread can die (out of memory, a bug that escapes serve()): its pending calls fail with
   * ERR_STORE_UNAVAILABLE, as they would with the database gone, and the next call starts a new
   * thread on the same file (at most one start per RESTART_INTERVAL_MS, fail fast in between), so
   * the CA recovers instead of answering 503 until someone restarts the process. What the dead
   * thread had committed is in the database; the new one reads the audit head from there.
   */
  function thread(): StoreThread {
    if (current !== undefined) return current;
    if (lastStart !== 0 && Date.now() - lastStart < RESTART_INTERVAL_MS) {
      throw storeUnavailable('the store thread stopped and is being restarted; retry');
    }
    lastStart = Date.now();
    const started = startStoreThread({ sqlitePath: options.sqlitePath, outboxSinks: options.outboxSinks ?? [] }, (replyStats) => (stats = replyStats), () => {
      if (current === started) current = undefined;
    });
    current = started;
    return started;
  }

  function call(method: StoreWorkerMethod, args: unknown[]): Promise<unknown> {
    if (closed) return Promise.reject(storeUnavailable('the store is closed'));
    try {
      return thread().call(method, args);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // Every method store-methods.ts sends to the thread, forwarded as it is: the thread's Store
  // answers with what its method returned, so each keeps its signature in the Store interface.
  const forwarded = Object.fromEntries(
    threadMethods.map((method) => [method, (...args: unknown[]) => call(method, args)]),
  ) as unknown as Pick<Store, ThreadMethod>;

  const store: Store = {
    ...forwarded,
    stats: () => stats,
    async threadHeap() {
      const heap = await current?.worker.getHeapStatistics();
      return heap === undefined ? undefined : { usedBytes: heap.used_heap_size, totalBytes: heap.total_heap_size };
    },
    close: async () => {
      if (closed) return;
      const last = current;
      closed = true;
      if (last === undefined) return;
      try {
        await last.call('close', []);
      } finally {
        await last.worker.terminate();
      }
    },
  };
  // Surface an unopenable database now, as openStore does, rather than at the first write.
  try {
    await store.listAudit({ limit: 1 });
  } catch (error) {
    await current?.worker.terminate();
    throw error;
  }
  return store;
}

/** A crashed thread is replaced at most this often; calls in between fail fast. */
const RESTART_INTERVAL_MS = 1000;

interface StoreThread {
  worker: Worker;
  call(method: StoreWorkerMethod, args: unknown[]): Promise<unknown>;
}

function startStoreThread(
  workerData: { sqlitePath: string; outboxSinks: readonly OutboxSink[] },
  onStats: (stats: StoreStats) => void,
  onStopped: () => void,
): StoreThread {
  const worker = new Worker(new URL('./store-worker.ts', import.meta.url), { workerData, name: 'jitca-store' });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  let nextId = 1;
  let failure: Error | undefined;

  worker.on('message', (message: StoreWorkerReplyMessage) => {
    onStats(message.stats);
    for (const reply of message.replies) {
      const waiter = pending.get(reply.id);
      if (waiter === undefined) continue;
      pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(deserializeError(reply.error));
    }
  });
  const fail = (error: Error): void => {
    // Whether the entries of an interrupted batch were committed is unknown: they fail, so no
    // certificate is released for them (an audit record without its certificate is harmless).
    failure ??= storeUnavailable('the store thread stopped; retry', error);
    for (const waiter of pending.values()) waiter.reject(failure);
    pending.clear();
    onStopped();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`store thread exited with code ${code}`)));

  // Calls made in the same turn (concurrent requests) travel in one message; see the protocol.
  const outbox = createMessageBatcher<StoreWorkerCall>((calls) => {
    try {
      worker.postMessage(calls satisfies StoreWorkerCallMessage);
    } catch {
      // Something in one call cannot be cloned (a function, a symbol): fail that call alone, as
      // an unbatched postMessage would have, and send the others.
      for (const call of calls) {
        try {
          worker.postMessage([call] satisfies StoreWorkerCallMessage);
        } catch (error) {
          const waiter = pending.get(call.id);
          pending.delete(call.id);
          waiter?.reject(error);
        }
      }
    }
  });

  return {
    worker,
    call(method: StoreWorkerMethod, args: unknown[]): Promise<unknown> {
      if (failure !== undefined) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        outbox.push({ id, method, args } as StoreWorkerCall);
      });
    },
  };
}
