/**
 * When `ssh-cert` stops waiting, the requester learns who decided and why: the request is read
 * once more (GET /v1/requests/{id}, which its requester may always read) and its decision told in
 * one line. Reading it is a courtesy: if it fails, the wait's own result stands.
 */
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { showRequest, type ApiSession } from './approver-requests.ts';
import { decisionText } from './request-text.ts';

/** "issued at … after approval by bob (INC-7), carol (ok)", or undefined when it cannot be read. */
export async function outcomeLine(session: ApiSession, requestId: string): Promise<string | undefined> {
  const request = await showRequest(session, requestId).catch(() => undefined);
  const outcome = request === undefined ? undefined : decisionText(request);
  return outcome === undefined ? undefined : `request ${requestId} ${outcome}`;
}

/** A wait refused because the request ended (denied, expired) says by whom and why. */
export async function withOutcome(refusal: JitcaError, session: ApiSession, requestId: string): Promise<JitcaError> {
  if (!isJitcaError(refusal, ErrorCodes.REQUEST_NOT_PENDING)) return refusal;
  const outcome = await outcomeLine(session, requestId);
  if (outcome === undefined) return refusal;
  return new JitcaError(refusal.code, outcome, { details: refusal.details, retryable: refusal.retryable, cause: refusal });
}
