/**
 * Group commit: every durable write costs one fsync at COMMIT, so writes that arrive together
 * share one transaction. Submissions made in the same event-loop turn, or while a batch is being
 * written, are queued and flushed together (up to maxBatch) once the writer is free. Flushing
 * waits for setImmediate, i.e. until the I/O callbacks of the current turn (other HTTP requests)
 * have had the chance to submit too. better-sqlite3 is synchronous, so with SQLite the callbacks
 * that piled up during a commit's fsync land in the next turn and share the next batch; with an
 * asynchronous driver (pg) they can also arrive while the batch is in flight.
 */

export interface BatchItem<TInput, TResult> {
  readonly input: TInput;
  readonly settled: boolean;
  resolve(result: TResult): void;
  reject(error: unknown): void;
}

/** Must settle every item (resolve or reject); items it leaves pending are rejected for it. */
export type BatchWriter<TInput, TResult> = (items: ReadonlyArray<BatchItem<TInput, TResult>>) => Promise<void>;

export interface GroupCommitter<TInput, TResult> {
  submit(input: TInput): Promise<TResult>;
  /** Resolves once nothing is queued or being written. */
  idle(): Promise<void>;
}

export function createGroupCommitter<TInput, TResult>(
  writeBatch: BatchWriter<TInput, TResult>,
  options: { maxBatch: number; onUnsettled: (error: unknown) => unknown },
): GroupCommitter<TInput, TResult> {
  const queue: Array<BatchItem<TInput, TResult>> = [];
  let flushing = false;
  let idleWaiters: Array<() => void> = [];

  function schedule(): void {
    if (flushing) return;
    flushing = true;
    setImmediate(() => void drain());
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, options.maxBatch);
      try {
        await writeBatch(batch);
      } catch (error) {
        const failure = options.onUnsettled(error);
        for (const item of batch) item.reject(failure);
      }
      // Items the writer forgot are failed rather than left hanging forever.
      for (const item of batch) {
        if (!item.settled) item.reject(options.onUnsettled(new Error('batch writer left the entry unsettled')));
      }
    }
    flushing = false;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const wake of waiters) wake();
  }

  return {
    submit(input: TInput): Promise<TResult> {
      return new Promise<TResult>((resolve, reject) => {
        let settled = false;
        queue.push({
          input,
          get settled() {
            return settled;
          },
          resolve(result) {
            if (settled) return;
            settled = true;
            resolve(result);
          },
          reject(error) {
            if (settled) return;
            settled = true;
            reject(error);
          },
        });
        schedule();
      });
    },
    idle(): Promise<void> {
      if (!flushing && queue.length === 0) return Promise.resolve();
      return new Promise<void>((wake) => idleWaiters.push(wake));
    },
  };
}
