/**
 * A keyed work queue in the manner of client-go's workqueue: a key is queued at most once, never
 * processed by two workers at the same time, and a key added while it is being processed runs
 * again afterwards (the object changed meanwhile). A failed key is retried after a per-key
 * exponential backoff; addAfter() schedules a later look (e.g. when another instance's claim
 * expires).
 */
import { createBackoff, type Backoff, type BackoffOptions } from './backoff.ts';

export interface WorkQueueOptions {
  concurrency: number;
  /** Processes one key. Throwing retries the key after its backoff. */
  process: (key: string) => Promise<void>;
  /** Told about every failure before the retry is scheduled. */
  onError: (key: string, error: unknown, retryInMs: number) => void;
  retryBackoff?: BackoffOptions;
}

export interface WorkQueue {
  add(key: string): void;
  addAfter(key: string, delayMs: number): void;
  /** Drops a key's retry state and pending delayed adds (the object is gone). */
  forget(key: string): void;
  /** Resolves when nothing is queued or running (delayed adds not counted). */
  idle(): Promise<void>;
  /** Stops taking work and waits for the running keys to finish. */
  stop(): Promise<void>;
  readonly length: number;
}

export function createWorkQueue(options: WorkQueueOptions): WorkQueue {
  const queue: string[] = [];
  const queued = new Set<string>();
  const running = new Set<string>();
  const dirty = new Set<string>();
  const timers = new Map<string, NodeJS.Timeout>();
  const failures = new Map<string, Backoff>();
  let idleWaiters: Array<() => void> = [];
  let stopped = false;
  let active = 0;

  function settleIdle(): void {
    if (queue.length > 0 || active > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const wake of waiters) wake();
  }

  function add(key: string): void {
    if (stopped) return;
    if (running.has(key)) {
      dirty.add(key);
      return;
    }
    if (queued.has(key)) return;
    queued.add(key);
    queue.push(key);
    pump();
  }

  function pump(): void {
    while (!stopped && active < options.concurrency && queue.length > 0) {
      const key = queue.shift() as string;
      queued.delete(key);
      running.add(key);
      active += 1;
      void run(key);
    }
  }

  async function run(key: string): Promise<void> {
    try {
      await options.process(key);
      failures.delete(key);
    } catch (error) {
      let backoff = failures.get(key);
      if (backoff === undefined) {
        backoff = createBackoff(options.retryBackoff);
        failures.set(key, backoff);
      }
      const delay = backoff.next();
      options.onError(key, error, delay);
      addAfter(key, delay);
    } finally {
      running.delete(key);
      active -= 1;
      if (dirty.delete(key)) add(key);
      pump();
      settleIdle();
    }
  }

  function addAfter(key: string, delayMs: number): void {
    if (stopped) return;
    const existing = timers.get(key);
    if (existing !== undefined) clearTimeout(existing);
    const timer = setTimeout(() => {
      timers.delete(key);
      add(key);
    }, Math.max(0, delayMs));
    timer.unref();
    timers.set(key, timer);
  }

  return {
    add,
    addAfter,
    forget(key: string): void {
      failures.delete(key);
      const timer = timers.get(key);
      if (timer !== undefined) clearTimeout(timer);
      timers.delete(key);
    },
    idle(): Promise<void> {
      if (queue.length === 0 && active === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      queue.length = 0;
      queued.clear();
      if (active > 0) await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    get length() {
      return queue.length;
    },
  };
}
