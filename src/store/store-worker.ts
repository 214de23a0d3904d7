import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../clock.ts';
import { openStore } from './store.ts';
import { serializeError, type StoreWorkerCall, type StoreWorkerReply } from './store-worker-protocol.ts';

/**
 * The store's own thread (see worker-store.ts). Calls are served as they arrive; writes that
 * arrive while a COMMIT's fsync blocks this thread queue up as messages and share the next
 * transaction through the store's group committer.
 */
const { sqlitePath } = workerData as { sqlitePath: string };
const port = parentPort;
if (port === null) throw new Error('store-worker.ts must run as a worker thread');

const storePromise = openStore({ sqlitePath, clock: systemClock });

port.on('message', (call: StoreWorkerCall) => {
  void serve(call);
});

async function serve(call: StoreWorkerCall): Promise<void> {
  let reply: StoreWorkerReply;
  let store;
  try {
    store = await storePromise;
    const method = store[call.method] as (...args: unknown[]) => Promise<unknown>;
    const value = await method.apply(store, call.args);
    reply = { id: call.id, ok: true, value, stats: store.stats() };
  } catch (error) {
    reply = { id: call.id, ok: false, error: serializeError(error), stats: store?.stats() ?? emptyStats() };
  }
  port?.postMessage(reply);
  if (call.method === 'close') port?.close();
}

function emptyStats(): StoreWorkerReply['stats'] {
  return { commits: 0, rollbacks: 0, entriesCommitted: 0, largestBatch: 0 };
}
