import { isJitcaError, ErrorCodes } from '../src/errors.ts';
import type { RotationEngine } from './rotation-engine.ts';
import { CA_KINDS } from './rotation-engine.ts';

/** How often `serve` asks whether a rotation step is due: a few reads; steps are days apart. */
export const ROTATION_CHECK_MS = 15 * 60_000;

export interface RotationLog {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

/**
 * `serve` running the schedule in-process: every intervalMs, plan; when a step is due, apply
 * (under the store's lock, so replicas and a CronJob never rotate twice), then refresh the
 * keyring so this process signs with the new generation at once (others pick it up by their own
 * refresh). Another rotator holding the lock is not a fault: the next tick looks again.
 */
export function scheduleRotation(engine: RotationEngine, afterChange: () => Promise<unknown>, log: RotationLog, intervalMs = ROTATION_CHECK_MS): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const tick = async (): Promise<void> => {
    const planned = await engine.plan(CA_KINDS);
    if (!planned.some(({ steps }) => steps.some((entry) => entry.ready))) return;
    try {
      const taken = await engine.apply(CA_KINDS);
      if (taken.length > 0) {
        log.info({ steps: taken.map(({ step }) => step) }, 'CA rotation steps taken on schedule');
        await afterChange();
      }
    } catch (error) {
      if (isJitcaError(error, ErrorCodes.ROTATION_LOCKED)) log.info({}, 'CA rotation due, but another process holds the rotation lock');
      else throw error;
    }
  };
  const timer = setInterval(() => {
    running = running.then(tick).catch((error: unknown) => log.warn({ err: error }, 'scheduled CA rotation failed'));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
