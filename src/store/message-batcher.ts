/**
 * Collects what one turn of the event loop produces (calls to the store thread, or its replies)
 * and hands it over as one list at the end of that turn. The flush is a microtask: it runs before
 * the thread returns to its event loop, so nothing waits for a later turn, a timer or more work.
 */
export interface MessageBatcher<T> {
  push(item: T): void;
  /** Sends what is queued now (e.g. before closing the port). */
  flush(): void;
}

export function createMessageBatcher<T>(send: (items: T[]) => void): MessageBatcher<T> {
  let queued: T[] = [];
  const flush = (): void => {
    if (queued.length === 0) return;
    const items = queued;
    queued = [];
    send(items);
  };
  return {
    push(item: T): void {
      queued.push(item);
      if (queued.length === 1) queueMicrotask(flush);
    },
    flush,
  };
}
