import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, JitcaError } from '../src/errors.ts';
import type { Clock } from '../src/clock.ts';
import type { RotationFence, Store } from '../src/store/types.ts';

export const ROTATION_LOCK = 'ca-rotation';
/** A hold lasts this long unless renewed; a rotator killed mid-step frees the lock by then. */
export const ROTATION_LOCK_TTL_MS = 120_000;

/**
 * One rotator at a time: runs `act` while holding the store's rotation lock, passing the fencing
 * number every step's write must carry. Another holder: wait up to waitMs (polling), then
 * ERR_ROTATION_LOCKED (the CLI's exit code 2, with who holds it in the message).
 */
export async function withRotationLock<T>(
  store: Pick<Store, 'acquireRotationLock' | 'releaseRotationLock'>,
  clock: Clock,
  waitMs: number,
  act: (fence: RotationFence) => Promise<T>,
): Promise<T> {
  const holder = `${hostname()}:${process.pid}:${randomUUID()}`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = clock.now();
    const fence = await store.acquireRotationLock({
      lock: ROTATION_LOCK,
      holder,
      nowIso: new Date(now).toISOString(),
      expiresAtIso: new Date(now + ROTATION_LOCK_TTL_MS).toISOString(),
    });
    if (fence !== undefined) {
      try {
        return await act(fence);
      } finally {
        await store.releaseRotationLock(fence);
      }
    }
    if (Date.now() >= deadline) {
      throw new JitcaError(ErrorCodes.ROTATION_LOCKED, `another process is rotating (the ${ROTATION_LOCK} lock is held); try again when it is done`, {
        details: { lock: ROTATION_LOCK },
      });
    }
    await sleep(200);
  }
}
