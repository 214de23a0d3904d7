import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../clock.ts';
import { openStore } from './store.ts';
import { createMessageBatcher } from './message-batcher.ts';
import {
  serializeError,
  type StoreWorkerCall,
  type StoreWorkerCallMessage,
  type StoreWorkerReply,
  type StoreWorkerReplyMessage,
} from './store-worker-protocol.ts';
import type { OutboxSink, Store, StoreStats } from './types.ts';

/**
 * The store's own thread (see worker-store.ts). Calls are served as they arrive; writes that
 * arrive while a COMMIT's fsync blocks this thread queue up as messages and share the next
 * transaction through the store's group committer.
 */
const { sqlitePath, outboxSinks } = workerData as { sqlitePath: string; outboxSinks: OutboxSink[] };
if (parentPort === null) throw new Error('store-worker.ts must run as a worker thread');
const port = parentPort;

let storePromise: Promise<Store> | undefined;
let openedStore: Store | undefined;

/** Opened at the first call; a failed open (volume not there yet) is tried again at the next. */
function openedStoreOnce(): Promise<Store> {
  storePromise ??= openStore({ sqlitePath, clock: systemClock, outboxSinks }).catch((error: unknown) => {
    storePromise = undefined;
    throw error;
  });
  return storePromise;
}

// Replies produced in the same turn (the entries of one committed batch) travel in one message,
// sent at the end of that turn: right after the COMMIT, never later.
const outbox = createMessageBatcher<StoreWorkerReply>((replies) => {
  port.postMessage({ replies, stats: openedStore?.stats() ?? emptyStats() } satisfies StoreWorkerReplyMessage);
});

port.on('message', (calls: StoreWorkerCallMessage) => {
  for (const call of calls) void serve(call);
});

async function serve(call: StoreWorkerCall): Promise<void> {
  let reply: StoreWorkerReply;
  try {
    const store = (openedStore ??= await openedStoreOnce());
    const method = store[call.method] as (...args: unknown[]) => Promise<unknown>;
    const value = await method.apply(store, call.args);
    reply = { id: call.id, ok: true, value };
  } catch (error) {
    reply = { id: call.id, ok: false, error: serializeError(error) };
  }
  outbox.push(reply);
  if (call.method === 'close') {
    outbox.flush();
    port.close();
  }
}

function emptyStats(): StoreStats {
  return { commits: 0, rollbacks: 0, entriesCommitted: 0, largestBatch: 0 };
}
