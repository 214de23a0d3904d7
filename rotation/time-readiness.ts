import type { CaGeneration, CaKind } from '../src/store/types.ts';
import type { PromotionReadiness, ReadinessVerdict } from './promotion-readiness.ts';

/**
 * Ready once `next` has been published for at least the overlap. Its row is what every bundle is
 * built from (the keyring's trusted()), so its creation is when publishing began. The whole rule
 * for kube-client (kube-apiserver reloads --client-ca-file on change); the ssh-user CA uses it
 * until host reports answer instead.
 */
export function timeBasedReadiness(overlapMs: number): PromotionReadiness {
  return {
    check(_ca: CaKind, next: CaGeneration, now: Date): Promise<ReadinessVerdict> {
      const publishedFor = now.getTime() - Date.parse(next.createdAt);
      const ready = publishedFor >= overlapMs;
      const hours = (ms: number): string => `${Math.floor(ms / 3_600_000)} h`;
      return Promise.resolve({
        ready,
        detail: ready
          ? `published for ${hours(publishedFor)} (overlap ${hours(overlapMs)})`
          : `published for ${hours(Math.max(0, publishedFor))} of the ${hours(overlapMs)} overlap`,
      });
    },
  };
}
