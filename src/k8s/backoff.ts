/**
 * Exponential backoff with "equal jitter" (half the delay fixed, half random; AWS Architecture
 * Blog, "Exponential Backoff And Jitter", 2015): retries of many controllers spread out instead of
 * arriving together, and no retry comes sooner than half the current step. The step doubles per
 * failure up to `maxMs`; reset() after a success.
 */
export interface BackoffOptions {
  /** First step, ms (default 200). */
  initialMs?: number;
  /** Cap of the step, ms (default 30 000, client-go's reflector cap). */
  maxMs?: number;
  /** Growth per failure (default 2). */
  factor?: number;
  /** Source of randomness in [0, 1) (default Math.random); tests pass a fixed one. */
  random?: () => number;
}

export interface Backoff {
  /** The delay before the next attempt, and one step further for the attempt after. */
  next(): number;
  reset(): void;
  readonly failures: number;
}

export function createBackoff(options: BackoffOptions = {}): Backoff {
  const initialMs = options.initialMs ?? 200;
  const maxMs = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const random = options.random ?? Math.random;
  let failures = 0;
  return {
    next(): number {
      const step = Math.min(maxMs, initialMs * factor ** failures);
      failures += 1;
      return Math.round(step / 2 + random() * (step / 2));
    },
    reset(): void {
      failures = 0;
    },
    get failures() {
      return failures;
    },
  };
}

/** setTimeout as a promise that an AbortSignal ends early (resolving, not rejecting). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
