/**
 * The store side of the controller: one request row per CSR (id "k8s-csr/<metadata.uid>", kind
 * x509-client) and the decision claim that makes several controller instances act as one.
 *
 * Exactly-once design:
 * 1. Claim. Before anything is written to the API, the deciding instance records the decision
 *    with recordDecision: request row (state approved/denied, the decision with a serial chosen
 *    now, the claimant and a lease), an approvals row (request_id, "jitca-csr-controller") and the
 *    csr.approved / csr.denied / csr.failed audit record, in one transaction. The approvals table's
 *    UNIQUE (request_id, approver) lets only one instance ever record a decision for a CSR; the
 *    others get ERR_STORE_CONFLICT and read the winner's decision instead of deciding again.
 * 2. Carry out. Only the claimant acts while its lease runs: PUT /approval, then (jitca's signer)
 *    sign with the claim's serial, record the certificate with csr.signed (state issued), and only
 *    then PUT /status. The certificates table's primary key on serial means at most one
 *    certificate can ever be recorded for the claim.
 * 3. Recover. Anyone who finds the CSR unfinished re-applies the stored decision: a recorded
 *    certificate is written again as is (never signed again); a decision whose lease expired
 *    without a certificate is signed with the claim's serial, and if the original claimant was only
 *    slow, the second recordDecision of that serial conflicts and the loser releases nothing: the
 *    recorded certificate is the one written to the API.
 */
import { ErrorCodes, isJitcaError } from '../errors.ts';
import type { CsrGrant, CsrSignerMode } from '../policy/csr-evaluate.ts';
import type { AuditEventType, DecisionEntry, IssuedCertificateInput, RequestState, Store, StoredRequest } from '../store/types.ts';
import type { Csr } from './kube-client.ts';

/** The approvals-table row that is the claim; "approver" is the controller as a whole. */
export const DECISION_CLAIM_APPROVER = 'jitca-csr-controller';
/** Audit actor of the controller's records; the instance is in data.instance. */
export const CONTROLLER_ACTOR = 'jitca-csr-controller';

export type StoredOutcome = 'approve' | 'deny' | 'failed';

/** What requests.decision holds for a CSR: everything needed to carry the decision out again. */
export interface StoredCsrDecision {
  outcome: StoredOutcome;
  rule: string;
  /** Condition reason written to the API. */
  reason: string;
  message: string;
  mode: CsrSignerMode;
  grant?: CsrGrant;
  /** Decimal serial for jitca's signer, chosen when the claim is made. */
  serial?: string;
  /** Who wrote the Approved condition when it was not jitca (e.g. "kubernetes:KubectlApprove"). */
  approvedBy?: string;
  claimedBy: string;
  claimedAt: string;
  leaseExpiresAt: string;
}

export function requestIdOf(csr: Csr): string {
  return `k8s-csr/${csr.metadata?.uid ?? ''}`;
}

export function readStoredDecision(request: StoredRequest | undefined): StoredCsrDecision | undefined {
  const decision = request?.decision as Partial<StoredCsrDecision> | undefined;
  if (decision === undefined || typeof decision.outcome !== 'string' || typeof decision.claimedBy !== 'string') return undefined;
  return decision as StoredCsrDecision;
}

function requestBody(csr: Csr): Record<string, unknown> {
  return {
    csr: csr.metadata?.name ?? '',
    uid: csr.metadata?.uid ?? '',
    signerName: csr.spec.signerName,
    usages: csr.spec.usages ?? [],
    username: csr.spec.username ?? '',
    groups: csr.spec.groups ?? [],
    ...(csr.spec.expirationSeconds === undefined ? {} : { expirationSeconds: csr.spec.expirationSeconds }),
  };
}

function eventData(csr: Csr, decision: StoredCsrDecision, instance: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    csr: csr.metadata?.name ?? '',
    uid: csr.metadata?.uid ?? '',
    signerName: csr.spec.signerName,
    outcome: decision.outcome,
    rule: decision.rule,
    message: decision.message,
    instance,
    ...(decision.grant === undefined ? {} : { role: decision.grant.role, groups: decision.grant.organizations }),
    // The matrix's operations the groups enable (issue 15): what an auditor asks about, not the RBAC group names.
    ...(decision.grant?.operations === undefined ? {} : { operations: decision.grant.operations }),
    ...(decision.serial === undefined ? {} : { serial: decision.serial }),
    ...(decision.approvedBy === undefined ? {} : { approvedBy: decision.approvedBy }),
    ...extra,
  };
}

const STATE_OF: Readonly<Record<StoredOutcome, RequestState>> = { approve: 'approved', deny: 'denied', failed: 'denied' };
const EVENT_OF: Readonly<Record<StoredOutcome, AuditEventType>> = { approve: 'csr.approved', deny: 'csr.denied', failed: 'csr.failed' };

function requestOf(csr: Csr, decision: StoredCsrDecision, state: RequestState, nowIso: string) {
  const created = csr.metadata?.creationTimestamp;
  return {
    id: requestIdOf(csr),
    kind: 'x509-client' as const,
    requester: csr.spec.username ?? 'unknown',
    ...(decision.grant === undefined ? {} : { role: decision.grant.role }),
    state,
    body: requestBody(csr),
    decision: { ...decision },
    createdAt: created instanceof Date && !Number.isNaN(created.getTime()) ? created.toISOString() : nowIso,
  };
}

export type ClaimResult = { won: true; decision: StoredCsrDecision } | { won: false; decision: StoredCsrDecision | undefined };

/** Step 1: record the decision and take the claim, or learn the decision someone else recorded. */
export async function claimDecision(store: Store, csr: Csr, decision: StoredCsrDecision, instance: string, nowIso: string): Promise<ClaimResult> {
  try {
    await store.recordDecision({
      request: requestOf(csr, decision, STATE_OF[decision.outcome], nowIso),
      approval: { approver: DECISION_CLAIM_APPROVER },
      event: {
        type: EVENT_OF[decision.outcome],
        actor: CONTROLLER_ACTOR,
        ...(csr.spec.username === undefined ? {} : { subject: csr.spec.username }),
        data: eventData(csr, decision, instance),
      },
    });
    return { won: true, decision };
  } catch (error) {
    if (!isJitcaError(error, ErrorCodes.STORE_CONFLICT)) throw error;
    return { won: false, decision: readStoredDecision(await store.getRequest(requestIdOf(csr))) };
  }
}

/** A claimed approval that could not be signed after all: csr.failed, state denied. */
export async function recordFailure(store: Store, csr: Csr, decision: StoredCsrDecision, instance: string, nowIso: string): Promise<void> {
  await store.recordDecision({
    request: requestOf(csr, decision, 'denied', nowIso),
    event: {
      type: 'csr.failed',
      actor: CONTROLLER_ACTOR,
      ...(csr.spec.username === undefined ? {} : { subject: csr.spec.username }),
      data: eventData(csr, decision, instance),
    },
  });
}

/**
 * Step 2: the certificate and its csr.signed record, written in one transaction (by the issuing
 * core) before the API sees it. The certificates table refuses a second one under the claim's serial.
 */
export function issuedRecord(csr: Csr, decision: StoredCsrDecision, certificate: IssuedCertificateInput, instance: string, nowIso: string): DecisionEntry {
  return {
    request: requestOf(csr, decision, 'issued', nowIso),
    certificate,
    event: {
      type: 'csr.signed',
      actor: CONTROLLER_ACTOR,
      ...(csr.spec.username === undefined ? {} : { subject: csr.spec.username }),
      data: eventData(csr, decision, instance, { notBefore: certificate.validAfter, notAfter: certificate.validBefore, caKeyId: certificate.caKeyId }),
    },
  };
}
