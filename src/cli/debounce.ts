/** Timers, injectable so the debounce is tested without waiting. */
export interface DebounceTimers {
  set(run: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: DebounceTimers = {
  set: (run, ms) => setTimeout(run, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Runs `action` once, `ms` after the last of a burst of triggers. */
export function createDebounce(ms: number, action: () => void, timers: DebounceTimers = realTimers): { trigger(): void; cancel(): void } {
  let pending: unknown;
  const cancel = (): void => {
    if (pending !== undefined) timers.clear(pending);
    pending = undefined;
  };
  return {
    trigger() {
      cancel();
      pending = timers.set(() => {
        pending = undefined;
        action();
      }, ms);
    },
    cancel,
  };
}
