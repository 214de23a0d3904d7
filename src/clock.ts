/** Time is injected so expiry, backdating and rotation are testable without sleeping. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function fixedClock(ms: number): Clock & { advance(deltaMs: number): void } {
  let current = ms;
  return {
    now: () => current,
    advance(deltaMs: number) {
      current += deltaMs;
    },
  };
}
