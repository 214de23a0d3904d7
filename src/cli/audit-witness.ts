import type { AuditAnchor, Store } from '../store/types.ts';

/** What the witness needs of a logger (pino's signature). */
export interface WitnessLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface AuditWitness {
  /** Logs the head a last time (records written since the last tick), then stops. */
  stop(): Promise<void>;
}

/**
 * Logs the audit log's newest seq and hash ("audit head", field `auditHead` = "<seq>:<hash>") at
 * start, then every intervalMs when it moved, and at stop. Shipped to a log store the database's
 * writers cannot edit, these lines are the anchors for `jitca audit verify --anchor`: a later
 * deletion of newest records, or a rewrite re-hashed from some record on, no longer matches them.
 * Reading the head is one indexed query; a failure is logged and retried at the next tick.
 */
export function witnessAuditHead(store: Store, log: WitnessLog, intervalMs: number): AuditWitness {
  let logged: string | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = (): Promise<void> => {
    running = running.then(async () => {
      let head: AuditAnchor | undefined;
      try {
        head = await store.auditHead();
      } catch (error) {
        log.warn({ err: error }, 'could not read the audit head');
        return;
      }
      if (head === undefined) return;
      const anchor = `${head.seq}:${head.hash}`;
      if (anchor === logged) return;
      logged = anchor;
      log.info({ auditHead: anchor }, 'audit head');
    });
    return running;
  };

  void tick();
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return {
    async stop(): Promise<void> {
      clearInterval(timer);
      await tick();
    },
  };
}
