/**
 * The CertificateSigningRequest controller: watches CSRs (csr-informer.ts), decides with the policy
 * (csr-decide.ts -> src/policy/csr-evaluate.ts), records every decision in the store before the API
 * sees it (csr-claim.ts), and carries it out (csr-approver.ts, csr-signer.ts).
 *
 * Per signerName:
 * - "approve" mode (kubernetes.io/kube-apiserver-client): Approved or Denied through /approval;
 *   kube-controller-manager signs approved ones.
 * - "sign" mode (jitca's own signerName, default jitca.dev/debug-client): approve or deny, then sign
 *   approved CSRs with the HSM CA (also those a person approved, e.g. for manual-approval roles, as
 *   long as the policy allows their content), or mark them Failed.
 *
 * Idempotent: a CSR with Denied, Failed or a certificate, or Approved for an approve-only signer, is
 * left alone; a CSR whose decision is in the store is carried out from the store, never decided
 * again. Several instances may run against one store and one cluster: see csr-claim.ts.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError, errorClasses, isJitcaError } from '../errors.ts';
import type { ActiveCa, X509SigningCa } from '../issuance/issuing-core.ts';
import { randomSerial } from '../issuance/serial.ts';
import { DEFAULT_JITCA_SIGNER, KUBE_APISERVER_CLIENT_SIGNER, type CsrSignerMode, type CsrSigners } from '../policy/csr-evaluate.ts';
import type { Policy } from '../policy/types.ts';
import type { Store } from '../store/types.ts';
import type { ParsedCsr } from '../x509/csr.ts';
import type { BackoffOptions } from './backoff.ts';
import { writeCondition } from './csr-approver.ts';
import { claimDecision, readStoredDecision, recordFailure, requestIdOf, type StoredCsrDecision } from './csr-claim.ts';
import { APPROVED_REASON, SIGNING_FAILED_REASON, hasCertificate, hasCondition, reasonForRule } from './csr-conditions.ts';
import { decideCsr } from './csr-decide.ts';
import { createCsrInformer, type CsrInformer, type CsrInformerStats } from './csr-informer.ts';
import { ensureCertificate, writeCertificate, type SigningContext } from './csr-signer.ts';
import { createCsrApi, type Csr, type CsrApi } from './kube-client.ts';
import { describeError, silentLogger, type ControllerLogger } from './logger.ts';
import { createWorkQueue, type WorkQueue } from './work-queue.ts';

export interface CsrSignerNames {
  /** jitca's own signerNames, approved and signed here (default ["jitca.dev/debug-client"]). */
  jitca?: string[];
  /** Approve/deny kubernetes.io/kube-apiserver-client CSRs (default true). */
  kubeApiserverClient?: boolean;
}

export interface CsrControllerOptions {
  /** The API; or a KubeConfig to build it from (kube-client.ts createKubeConfig). */
  api?: CsrApi;
  kubeConfig?: KubeConfig;
  /** The policy, or a getter so a reloaded policy applies to the next decision. */
  policy: Policy | (() => Policy);
  store: Store;
  /**
   * The Kubernetes client CA generation that signs now (HSM key and certificate), asked for each
   * certificate so a rotation needs no restart.
   */
  activeCa: ActiveCa<X509SigningCa>;
  clock: Clock;
  signerNames?: CsrSignerNames;
  logger?: ControllerLogger;
  /** Names this instance in claims and audit data (default hostname/pid/random). */
  instanceId?: string;
  /** How long another instance waits before carrying out a claim it does not hold (default 30 s). */
  leaseSeconds?: number;
  /** CSRs processed at once (default 16). */
  concurrency?: number;
  /** notBefore backdating for clock skew (default 60 s). */
  backdateSeconds?: number;
  /**
   * Cluster name for the scope extension of certificates this controller signs; its namespace is
   * the role's only namespace, or "*" when the role spans several (RBAC groups then decide).
   */
  clusterName?: string;
  /** Backoff of list/watch failures. */
  watchBackoff?: BackoffOptions;
  /** Backoff of a CSR whose handling failed (HSM, store or apiserver unavailable). */
  retryBackoff?: BackoffOptions;
  /** Server-side watch timeout range, seconds (default 300-600). */
  watchTimeoutSeconds?: { min: number; max: number };
}

export interface CsrControllerStats {
  approved: number;
  denied: number;
  /** Certificates signed with the HSM by this instance. */
  signed: number;
  /** status.certificate writes by this instance (including re-writes from the store). */
  certificatesWritten: number;
  /** Certificates taken from the store instead of signing (recovery, or another instance won). */
  certificatesFromStore: number;
  failed: number;
  /** Claims another instance held when this one tried. */
  claimsLost: number;
  /** Errors that sent a CSR back to the queue. */
  retries: number;
  informer: CsrInformerStats;
}

export interface CsrController {
  readonly instanceId: string;
  /** Starts watching; resolves once the first list has been queued. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves when no CSR is queued or being processed (later retries not counted). */
  idle(): Promise<void>;
  stats(): CsrControllerStats;
}

const DEFAULT_LEASE_SECONDS = 30;
const DEFAULT_CONCURRENCY = 16;
const DEFAULT_BACKDATE_SECONDS = 60;
const FINISHED_MEMORY = 100_000;

/**
 * Whether a failure while signing leaves the CSR queued: a part that comes back, or a CA an
 * operator must fix (PIN, key, config, RBAC), is no reason to mark the request Failed for good.
 * Only a failure the request itself causes (errors.ts retry class `no`) is final.
 */
function isTransient(error: unknown): boolean {
  if (!isJitcaError(error)) return true;
  return error.retryable || errorClasses[error.code].retry !== 'no';
}

export function signersOf(names: CsrSignerNames = {}): CsrSigners {
  const signers: Record<string, CsrSignerMode> = {};
  if (names.kubeApiserverClient ?? true) signers[KUBE_APISERVER_CLIENT_SIGNER] = 'approve';
  for (const name of names.jitca ?? [DEFAULT_JITCA_SIGNER]) {
    if (name === KUBE_APISERVER_CLIENT_SIGNER || name.startsWith('kubernetes.io/')) {
      throw new JitcaError(ErrorCodes.CONFIG_INVALID, `signerName ${name} belongs to Kubernetes; jitca's own signerName must be in a domain you own`);
    }
    signers[name] = 'sign';
  }
  return signers;
}

export function createCsrController(options: CsrControllerOptions): CsrController {
  const api = options.api ?? (options.kubeConfig === undefined ? undefined : createCsrApi(options.kubeConfig));
  if (api === undefined) throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'the CSR controller needs a Kubernetes API (api or kubeConfig)');
  const logger = options.logger ?? silentLogger;
  const signers = signersOf(options.signerNames);
  const instanceId = options.instanceId ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const leaseMs = (options.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
  const policyOf = typeof options.policy === 'function' ? options.policy : () => options.policy as Policy;
  const { clock, store } = options;
  const signing: SigningContext = {
    store,
    activeCa: options.activeCa,
    clock,
    instanceId,
    backdateSeconds: options.backdateSeconds ?? DEFAULT_BACKDATE_SECONDS,
  };
  const stats = { approved: 0, denied: 0, signed: 0, certificatesWritten: 0, certificatesFromStore: 0, failed: 0, claimsLost: 0, retries: 0 };
  /** uids of CSRs this instance saw finished: later (stale) events for them need no work. */
  const finished = new Set<string>();
  const pendingLogged = new Set<string>();

  function finish(csr: Csr): void {
    const uid = csr.metadata?.uid;
    if (uid === undefined) return;
    finished.add(uid);
    if (finished.size > FINISHED_MEMORY) finished.delete(finished.values().next().value as string);
  }

  const queue: WorkQueue = createWorkQueue({
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    process: reconcile,
    retryBackoff: options.retryBackoff ?? { initialMs: 200, maxMs: 30_000 },
    onError: (key, error, retryInMs) => {
      stats.retries += 1;
      logger.warn({ csr: key, ...describeError(error), retryInMs }, 'handling the CSR failed; retrying');
    },
  });

  const informer: CsrInformer = createCsrInformer({
    api,
    logger,
    ...(options.watchBackoff === undefined ? {} : { backoff: options.watchBackoff }),
    ...(options.watchTimeoutSeconds === undefined ? {} : { watchTimeoutSeconds: options.watchTimeoutSeconds }),
    onChange: (change) => {
      const name = change.csr.metadata?.name;
      if (name === undefined) return;
      if (change.type === 'delete') {
        queue.forget(name);
        const uid = change.csr.metadata?.uid;
        if (uid !== undefined) {
          finished.delete(uid);
          pendingLogged.delete(uid);
        }
        return;
      }
      queue.add(name);
    },
  });

  /** A new decision for a CSR nobody decided yet (or that someone else approved, for our signer). */
  function decideFresh(csr: Csr, mode: CsrSignerMode, approvedElsewhere: boolean, parsedOut: { parsed?: ParsedCsr }): StoredCsrDecision | undefined {
    const { decision, parsed } = decideCsr(policyOf(), csr, signers, options.clusterName);
    if (parsed !== undefined) parsedOut.parsed = parsed;
    const now = clock.now();
    const base = {
      mode,
      claimedBy: instanceId,
      claimedAt: new Date(now).toISOString(),
      leaseExpiresAt: new Date(now + leaseMs).toISOString(),
    };
    if (decision.outcome === 'ignore') return undefined;
    if (!approvedElsewhere) {
      if (decision.outcome === 'pending') {
        const uid = csr.metadata?.uid ?? '';
        if (!pendingLogged.has(uid)) {
          pendingLogged.add(uid);
          logger.info({ csr: csr.metadata?.name, uid, rule: decision.rule, role: decision.grant.role }, 'CSR waits for a person to approve it');
        }
        return undefined;
      }
      if (decision.outcome === 'deny') {
        return { ...base, outcome: 'deny', rule: decision.rule, reason: reasonForRule(decision.rule), message: decision.message };
      }
      return {
        ...base,
        outcome: 'approve',
        rule: decision.rule,
        reason: APPROVED_REASON,
        message: decision.message,
        grant: decision.grant,
        ...(mode === 'sign' ? { serial: randomSerial().toString() } : {}),
      };
    }
    const approval = (csr.status?.conditions ?? []).find((condition) => condition.type === 'Approved');
    const approvedBy = `kubernetes:${approval?.reason ?? 'unknown'}`;
    if (decision.outcome === 'deny') {
      return { ...base, outcome: 'failed', rule: decision.rule, reason: reasonForRule(decision.rule), message: `not signed: ${decision.message}`, approvedBy };
    }
    return {
      ...base,
      outcome: 'approve',
      rule: decision.rule,
      reason: APPROVED_REASON,
      message: `approved by ${approvedBy}; ${decision.message}`,
      grant: decision.grant,
      serial: randomSerial().toString(),
      approvedBy,
    };
  }

  /**
   * 404 (deleted meanwhile) and 422 (the apiserver refuses any update of this object, e.g. a
   * request whose self-signature no longer verifies under validation.go) cannot get better by
   * retrying: the decision stays recorded in the store, and the CSR is left as it is. Neither can
   * a CSR the store refuses to record (ERR_REQUEST_INVALID: e.g. a username over its size limit).
   */
  function isFinalRefusal(error: unknown): boolean {
    if (isJitcaError(error, ErrorCodes.REQUEST_INVALID)) return true;
    if (!isJitcaError(error, ErrorCodes.KUBE_REQUEST_FAILED)) return false;
    const status = (error.details as { status?: unknown } | undefined)?.status;
    return status === 404 || status === 422;
  }

  async function reconcile(name: string): Promise<void> {
    const uid = informer.get(name)?.metadata?.uid;
    try {
      await reconcileOnce(name);
    } catch (error) {
      if (!isFinalRefusal(error)) throw error;
      // Only the object that was refused: the name may belong to a new CSR by now.
      const csr = informer.get(name);
      if (csr !== undefined && csr.metadata?.uid === uid) finish(csr);
      logger.error({ csr: name, ...describeError(error) }, 'this CSR cannot be handled; it is left as it is');
    }
  }

  async function reconcileOnce(name: string): Promise<void> {
    const csr = informer.get(name);
    const uid = csr?.metadata?.uid;
    if (csr === undefined || uid === undefined || finished.has(uid)) return;
    const mode = signers[csr.spec.signerName];
    if (mode === undefined) return;
    if (hasCondition(csr, 'Denied') || hasCondition(csr, 'Failed') || hasCertificate(csr)) return finish(csr);
    const approved = hasCondition(csr, 'Approved');
    if (approved && mode === 'approve') return finish(csr);

    // Claim optimistically: decide, then try to record. If a decision is already recorded (another
    // instance, or this CSR was handled before a restart), the claim's unique row refuses ours and
    // the recorded decision is carried out instead. This saves a store read per new CSR.
    const parsedOut: { parsed?: ParsedCsr } = {};
    const fresh = decideFresh(csr, mode, approved, parsedOut);
    let decision: StoredCsrDecision | undefined;
    let claimedNow = false;
    if (fresh === undefined) {
      // Pending or ignored under today's policy, but an earlier decision may be recorded.
      decision = readStoredDecision(await store.getRequest(requestIdOf(csr)));
      if (decision === undefined) return;
    } else {
      const claim = await claimDecision(store, csr, fresh, instanceId, new Date(clock.now()).toISOString());
      if (!claim.won && claim.decision?.claimedBy !== instanceId) stats.claimsLost += 1;
      claimedNow = claim.won;
      decision = claim.decision;
      if (decision === undefined) {
        throw new JitcaError(ErrorCodes.STORE_UNAVAILABLE, `the decision on CSR ${name} is claimed but could not be read yet`, { retryable: true });
      }
    }
    const leaseLeftMs = Date.parse(decision.leaseExpiresAt) - clock.now();
    if (decision.claimedBy !== instanceId && leaseLeftMs > 0) {
      // Another instance holds the claim and is carrying it out; look again when its lease ends.
      queue.addAfter(name, leaseLeftMs + 100);
      return;
    }
    await carryOut(csr, decision, parsedOut.parsed, claimedNow);
  }

  async function carryOut(csr: Csr, decision: StoredCsrDecision, parsed: ParsedCsr | undefined, claimedNow: boolean): Promise<void> {
    const name = csr.metadata?.name ?? '';
    const log = { csr: name, uid: csr.metadata?.uid, rule: decision.rule, instance: instanceId };
    if (decision.outcome === 'deny' || decision.outcome === 'failed') {
      const type = decision.outcome === 'deny' ? 'Denied' : 'Failed';
      const result = await writeCondition(api as CsrApi, csr, { type, reason: decision.reason, message: decision.message });
      if (result.written) {
        if (type === 'Denied') stats.denied += 1;
        else stats.failed += 1;
        logger.info({ ...log, condition: type }, `CSR ${type.toLowerCase()}`);
      }
      return finish(result.csr);
    }
    let current = csr;
    if (!hasCondition(current, 'Approved')) {
      const result = await writeCondition(api as CsrApi, current, { type: 'Approved', reason: decision.reason, message: decision.message });
      current = result.csr;
      if (result.written) {
        stats.approved += 1;
        logger.info({ ...log, condition: 'Approved' }, 'CSR approved');
      }
      if (!hasCondition(current, 'Approved')) {
        logger.warn(log, 'CSR was decided otherwise by someone else before jitca could approve it');
        return finish(current);
      }
    }
    if (decision.mode === 'approve') return finish(current);
    if (hasCondition(current, 'Denied') || hasCondition(current, 'Failed') || hasCertificate(current)) return finish(current);

    let pem: string;
    try {
      // spec is immutable, so the request parsed from the first object is the one `current` holds.
      // A claim won just now chose a new serial: no certificate can be recorded under it yet.
      const issued = await ensureCertificate(signing, current, decision, parsed, !claimedNow);
      pem = issued.pem;
      if (issued.signedHere) stats.signed += 1;
      else stats.certificatesFromStore += 1;
    } catch (error) {
      if (isTransient(error)) throw error;
      const code = isJitcaError(error) ? error.code : 'unknown';
      const failed: StoredCsrDecision = {
        ...decision,
        outcome: 'failed',
        reason: SIGNING_FAILED_REASON,
        message: `not signed: ${code}: ${error instanceof Error ? error.message : 'signing failed'}`,
      };
      await recordFailure(store, current, failed, instanceId, new Date(clock.now()).toISOString());
      const result = await writeCondition(api as CsrApi, current, { type: 'Failed', reason: failed.reason, message: failed.message });
      if (result.written) stats.failed += 1;
      logger.warn({ ...log, code }, 'CSR could not be signed; marked Failed');
      return finish(result.csr);
    }
    const written = await writeCertificate(api as CsrApi, current, pem);
    if (written.written) {
      stats.certificatesWritten += 1;
      logger.info(log, 'CSR signed');
    }
    finish(written.csr);
  }

  return {
    instanceId,
    async start(): Promise<void> {
      informer.start();
      await informer.synced();
    },
    async stop(): Promise<void> {
      await informer.stop();
      await queue.stop();
    },
    idle: () => queue.idle(),
    stats: () => ({ ...stats, informer: informer.stats() }),
  };
}
