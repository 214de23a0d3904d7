/** The policy watch's debounce (cli/debounce.ts): one action after the last trigger of a burst, on injected timers. */
import { describe, expect, it } from 'vitest';
import { createDebounce, type DebounceTimers } from '../../src/cli/debounce.ts';

/** Timers that run only when the test says so. */
function manualTimers(): DebounceTimers & { due(): number; fire(): void } {
  let next = 0;
  const pending = new Map<number, () => void>();
  return {
    set(run) {
      next += 1;
      pending.set(next, run);
      return next;
    },
    clear(handle) {
      pending.delete(handle as number);
    },
    due: () => pending.size,
    fire() {
      const runs = [...pending.values()];
      pending.clear();
      for (const run of runs) run();
    },
  };
}

describe('createDebounce', () => {
  it('runs once for a burst of triggers (a rename save touches the directory several times)', () => {
    const timers = manualTimers();
    let runs = 0;
    const debounce = createDebounce(300, () => (runs += 1), timers);
    debounce.trigger();
    debounce.trigger();
    debounce.trigger();
    expect(timers.due()).toBe(1);
    timers.fire();
    expect(runs).toBe(1);
    debounce.trigger();
    timers.fire();
    expect(runs).toBe(2);
  });

  it('runs nothing once cancelled (the process is stopping)', () => {
    const timers = manualTimers();
    let runs = 0;
    const debounce = createDebounce(300, () => (runs += 1), timers);
    debounce.trigger();
    debounce.cancel();
    timers.fire();
    expect(runs).toBe(0);
    expect(timers.due()).toBe(0);
  });

  it('waits the given delay on the real timers', async () => {
    let runs = 0;
    const debounce = createDebounce(20, () => (runs += 1));
    debounce.trigger();
    debounce.trigger();
    expect(runs).toBe(0);
    for (let attempt = 0; attempt < 100 && runs === 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(runs).toBe(1);
  });
});
