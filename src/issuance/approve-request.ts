import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { canApprove, evaluateSshRequest } from '../policy/evaluate.ts';
import { canDeny } from '../policy/approval.ts';
import { withEnrollment } from './enrolled-subject-key.ts';
import type { Identity, SshCertificateRequest } from '../policy/types.ts';
import { parseSshPublicKey } from '../ssh/public-key.ts';
import { approverGroupsOf } from '../store/approver-groups.ts';
import type { StoredRequest } from '../store/types.ts';
import {
  auditEvent,
  requestRow,
  signAndRecord,
  type SshIssuanceContext,
  type SshIssuanceResult,
} from './issue-ssh-certificate.ts';
import { boundedDenialEvent } from './denial-record.ts';
import { expireIfDue, requesterOf, requireRequest } from './request-lifecycle.ts';

export type ApprovalResult =
  | { status: 'pending'; requestId: string; approvals: string[]; required: number }
  | Extract<SshIssuanceResult, { status: 'issued' }>;

/**
 * Decisions on one request are serialized per store (one store per replica), so approvers
 * arriving together at one replica do not race each other for nothing. Across replicas every
 * decision is written with the request version it was made from (StoredRequest.version); the
 * store refuses it with ERR_REQUEST_CHANGED if another replica decided in between, and the
 * decision is made again from what is stored now: two approvers of a two-approval role at two
 * replicas cannot both see "no prior approval" and leave the request pending for ever, and two
 * approvers of a one-approval role cannot both sign.
 */
const inFlightByStore = new WeakMap<object, Map<string, Promise<unknown>>>();

/** Another replica deciding the same request at the same moment is rare; more than this in a row is not. */
const DECISION_ATTEMPTS = 3;

function serialized<T>(context: SshIssuanceContext, requestId: string, work: () => Promise<T>): Promise<T> {
  let inFlight = inFlightByStore.get(context.store);
  if (inFlight === undefined) {
    inFlight = new Map();
    inFlightByStore.set(context.store, inFlight);
  }
  const queue = inFlight;
  const previous = queue.get(requestId) ?? Promise.resolve();
  const next = previous.then(() => decidedAgainIfChanged(work), () => decidedAgainIfChanged(work));
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queue.set(requestId, settled);
  void settled.then(() => {
    if (queue.get(requestId) === settled) queue.delete(requestId);
  });
  return next;
}

async function decidedAgainIfChanged<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!isJitcaError(error, ErrorCodes.REQUEST_CHANGED) || attempt >= DECISION_ATTEMPTS) throw error;
    }
  }
}

/**
 * An approver approves a pending request. Policy decides who may (never the requester, only the
 * role's approver groups, each person once); the last required approval re-evaluates the original
 * request against the current policy for the original identity, then signs and records it in one
 * durable transaction with the approval.
 */
export function approveRequest(
  context: SshIssuanceContext,
  approver: Identity,
  requestId: string,
  reason?: string,
): Promise<ApprovalResult> {
  return serialized(context, requestId, async () => {
    const request = await pendingRequest(context, requestId);
    const requester = requesterOf(request);
    const prior = (await context.store.listApprovals(requestId)).map((approval) => approval.approver);
    const role = request.role ?? '';
    // Policy may have changed since the request was made: the grant is decided again, now, for the
    // role the approvals were given for. Without naming it, a request that named no role would be
    // matched afresh and could land on another role with other approvers and a wider grant. The
    // operations and working hours are judged at the request's time: approving at 9:00 a request
    // made at 3:00 does not make it a working-hours request.
    // The role the approvals are given for is named, so a request that named none is not matched
    // afresh onto another role with other approvers and a wider grant if the policy changed.
    const subjectKey = parseSshPublicKey(String(request.body['publicKey']));
    const judgedKey = await withEnrollment(context.store, context.policy, requester, subjectKey);
    const decision = evaluateSshRequest(context.policy, requester, { ...requestFromBody(request.body), role }, judgedKey, new Date(request.createdAt));
    const needed = decision.outcome === 'pending' ? decision.approval : undefined;
    const check = canApprove(context.policy, role, approver, requester.subject, prior, needed);
    if (!check.ok) {
      throw new JitcaError(ErrorCodes.APPROVAL_REFUSED, check.message, { details: { rule: check.rule, requestId } });
    }
    const approvers = [...prior, approver.subject];
    const roleDefinition = context.policy.roles.find((candidate) => candidate.name === role);
    const required = needed?.approvals ?? (roleDefinition?.approval.mode === 'manual' ? roleDefinition.approval.approvals : 1);
    const now = context.clock.now();

    if (approvers.length < required) {
      await context.store.recordDecision({
        request: {
          ...requestRow(requestId, requester, role, 'pending', request.body, request.decision, now),
          expiresAt: request.expiresAt,
          expectedVersion: request.version,
        },
        approval: { approver: approver.subject, reason },
        event: auditEvent('request.approved', approver, requestId, { requester: requester.subject, approvers, required, reason }),
      });
      return { status: 'pending', requestId, approvals: approvers, required };
    }

    if (decision.outcome === 'deny') {
      await context.store.recordDecision({
        request: { ...requestRow(requestId, requester, role, 'denied', request.body, { ...decision, approverGroups: approverGroupsOf(request.decision) }, now), expectedVersion: request.version },
        approval: { approver: approver.subject, reason },
        event: boundedDenialEvent(auditEvent('request.denied', approver, requestId, { rule: decision.rule, message: decision.message, approvers, reason })),
      });
      throw new JitcaError(ErrorCodes.POLICY_DENIED, decision.message, { details: { rule: decision.rule, requestId } });
    }
    return signAndRecord(
      context,
      requester,
      subjectKey,
      requestId,
      { outcome: 'approve', grant: decision.grant, notes: decision.notes },
      request.body,
      `approved:${requestId}:${approvers.join(',')}`,
      { approver, approvers, requestVersion: request.version, reason, approverGroups: approverGroupsOf(request.decision) },
    );
  });
}

/** An approver (or the requester, withdrawing) denies a pending request. */
export function denyRequest(context: SshIssuanceContext, actor: Identity, requestId: string, reason: string): Promise<void> {
  return serialized(context, requestId, async () => {
    const request = await pendingRequest(context, requestId);
    const requester = requesterOf(request);
    const check = canDeny(context.policy, request.role, actor, requester.subject);
    if (!check.ok) throw new JitcaError(ErrorCodes.APPROVAL_REFUSED, check.message, { details: { rule: check.rule, requestId } });
    await context.store.recordDecision({
      request: {
        ...requestRow(requestId, requester, request.role, 'denied', request.body, { outcome: 'deny', rule: 'approval.denied', by: actor.subject, reason, approverGroups: approverGroupsOf(request.decision) }, context.clock.now()),
        expectedVersion: request.version,
      },
      event: auditEvent('request.denied', actor, requestId, { requester: requester.subject, reason }),
    });
  });
}

async function pendingRequest(context: SshIssuanceContext, requestId: string): Promise<StoredRequest> {
  const request = await expireIfDue(context, await requireRequest(context.store, requestId));
  if (request.state !== 'pending') {
    throw new JitcaError(ErrorCodes.REQUEST_NOT_PENDING, `request ${requestId} is ${request.state}, not pending`, {
      details: { requestId, state: request.state },
    });
  }
  return request;
}

function requestFromBody(body: Record<string, unknown>): SshCertificateRequest {
  const { publicKey: _key, keyType: _type, keyFingerprint: _fp, identity: _identity, ...request } = body;
  return request as SshCertificateRequest;
}
