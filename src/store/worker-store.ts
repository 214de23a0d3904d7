import { Worker } from 'node:worker_threads';
import { storeUnavailable } from './store-errors.ts';
import { createMessageBatcher } from './message-batcher.ts';
import {
  deserializeError,
  type StoreWorkerCall,
  type StoreWorkerCallMessage,
  type StoreWorkerMethod,
  type StoreWorkerReplyMessage,
} from './store-worker-protocol.ts';
import type { Store, StoreStats } from './types.ts';

/**
 * The Store on its own thread. better-sqlite3 is synchronous: on the event loop every COMMIT's
 * fsync (synchronous=FULL, about a millisecond here) and every statement stalls all requests and
 * HSM completions. On a worker they overlap with signing, and the certificate is still released
 * only when the worker reports the COMMIT done. Same interface, same semantics, same audit chain;
 * timestamps come from the system clock (an injected test clock needs the in-process openStore).
 */
export async function openWorkerStore(options: { sqlitePath: string }): Promise<Store> {
  const worker = new Worker(new URL('./store-worker.ts', import.meta.url), { workerData: { sqlitePath: options.sqlitePath } });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  let nextId = 1;
  let stats: StoreStats = { commits: 0, rollbacks: 0, entriesCommitted: 0, largestBatch: 0 };
  let failure: Error | undefined;

  worker.on('message', (message: StoreWorkerReplyMessage) => {
    stats = message.stats;
    for (const reply of message.replies) {
      const waiter = pending.get(reply.id);
      if (waiter === undefined) continue;
      pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(deserializeError(reply.error));
    }
  });
  const fail = (error: Error): void => {
    failure = storeUnavailable('the store thread stopped', error);
    for (const waiter of pending.values()) waiter.reject(failure);
    pending.clear();
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

  function call<T>(method: StoreWorkerMethod, ...args: unknown[]): Promise<T> {
    if (failure !== undefined) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      outbox.push({ id, method, args });
    });
  }

  const store: Store = {
    recordDecision: (entry) => call('recordDecision', entry),
    appendAudit: (event) => call('appendAudit', event),
    recordRevocation: (entry) => call('recordRevocation', entry),
    listRevocations: (validAtIso) => call('listRevocations', validAtIso),
    getRequest: (id) => call('getRequest', id),
    findCertificateBySerial: (serial) => call('findCertificateBySerial', serial),
    listApprovals: (requestId) => call('listApprovals', requestId),
    countRequests: (state) => call('countRequests', state),
    listOverduePending: (beforeIso, limit) => call('listOverduePending', beforeIso, limit),
    listAudit: (listOptions) => call('listAudit', listOptions),
    verifyAudit: (anchors) => call('verifyAudit', anchors ?? []),
    auditHead: () => call('auditHead'),
    stats: () => stats,
    close: async () => {
      if (failure !== undefined) return;
      await call('close');
      await worker.terminate();
    },
  };
  // Surface an unopenable database now, as openStore does, rather than at the first write.
  await store.listAudit({ limit: 1 });
  return store;
}
