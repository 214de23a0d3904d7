import { ErrorCodes, JitcaError } from '../src/errors.ts';
import type { Clock } from '../src/clock.ts';
import type { JitcaConfig } from '../src/config.ts';
import { ensureKubeCaCertificate } from '../src/issuance/kube-client-ca.ts';
import type { KeyManager } from '../src/keys/key-manager.ts';
import { parseKeyAlgorithmName, type KeyAlgorithm } from '../src/keys/signer.ts';
import type { CaKind, Store } from '../src/store/types.ts';
import { createHostReadiness } from './host-readiness.ts';
import type { PromotionReadiness, ReadinessVerdict } from './promotion-readiness.ts';
import { createRotationEngine, type RotationEngine, type RotationEngineOptions } from './rotation-engine.ts';
import { timeBasedReadiness } from './time-readiness.ts';

const DAY_MS = 86_400_000;

/**
 * The engine for a configuration: schedule and algorithms from config, the kube-client CA
 * certificate written for each generation. Readiness: the overlap by time for both CAs, and for
 * ssh-user also trust-sync's host reports (hostReports.readyShare of the hosts seen), unless the
 * caller passes its own ssh-user readiness.
 */
export function rotationEngineFor(
  parts: { config: JitcaConfig; keys: KeyManager; store: RotationEngineOptions['store'] & Pick<Store, 'listHostReports'>; clock: Clock },
  actor: string,
  extra: { sshReadiness?: PromotionReadiness; onProgress?: RotationEngineOptions['onProgress']; lockWaitMs?: number } = {},
): RotationEngine {
  const { config } = parts;
  const overlapMs = config.rotation.overlapDays * DAY_MS;
  const byTime = timeBasedReadiness(overlapMs);
  return createRotationEngine({
    store: parts.store,
    keys: parts.keys,
    clock: parts.clock,
    actor,
    caNames: { 'ssh-user': config.ssh.caName, 'kube-client': config.kubernetes.caName },
    algorithms: { 'ssh-user': algorithmOf(config.ssh.keyAlgorithm), 'kube-client': algorithmOf(config.kubernetes.keyAlgorithm) },
    readiness: {
      'ssh-user': extra.sshReadiness ?? allOf([byTime, createHostReadiness({ store: parts.store, settings: config.hostReports })]),
      'kube-client': byTime,
    },
    schedule: { periodMs: config.rotation.periodDays * DAY_MS, overlapMs, skewMs: config.ssh.backdateSeconds * 1000 },
    publishGeneration: async (ca: CaKind, generation, signer) => {
      if (ca === 'kube-client') await ensureKubeCaCertificate(config, signer, generation, parts.clock);
    },
    ...(extra.onProgress === undefined ? {} : { onProgress: extra.onProgress }),
    ...(extra.lockWaitMs === undefined ? {} : { lockWaitMs: extra.lockWaitMs }),
  });
}

function algorithmOf(name: string): KeyAlgorithm {
  const algorithm = parseKeyAlgorithmName(name);
  if (algorithm === undefined) throw new JitcaError(ErrorCodes.CONFIG_INVALID, `unknown key algorithm ${name}`);
  return algorithm;
}

/** Ready when every one is; the details joined, the host rows kept. */
function allOf(readiness: readonly PromotionReadiness[]): PromotionReadiness {
  return {
    async check(ca, next, now): Promise<ReadinessVerdict> {
      const verdicts = await Promise.all(readiness.map((one) => one.check(ca, next, now)));
      const hosts = verdicts.flatMap((verdict) => verdict.hosts ?? []);
      return { ready: verdicts.every((verdict) => verdict.ready), detail: verdicts.map((verdict) => verdict.detail).join('; '), ...(hosts.length === 0 ? {} : { hosts }) };
    },
  };
}
