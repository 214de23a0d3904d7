import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';
import type { Store, StoredRequest } from '../store/types.ts';
import { auditEvent, type SshIssuanceContext } from './issue-ssh-certificate.ts';

export async function requireRequest(store: Store, requestId: string): Promise<StoredRequest> {
  const request = await store.getRequest(requestId);
  if (request === undefined) {
    throw new JitcaError(ErrorCodes.REQUEST_NOT_FOUND, `request ${requestId} does not exist`, { details: { requestId } });
  }
  return request;
}

/**
 * A pending request past its expiry becomes "expired" (audited) the first time anyone looks at it,
 * and by the periodic sweep; it can then never be approved. If another replica decided (or
 * expired) it in between, what that replica wrote is returned instead.
 */
export async function expireIfDue(context: SshIssuanceContext, request: StoredRequest): Promise<StoredRequest> {
  if (request.state !== 'pending' || request.expiresAt === undefined) return request;
  const now = context.clock.now();
  if (Date.parse(request.expiresAt) > now) return request;
  try {
    await recordExpiry(context, request);
  } catch (error) {
    if (!isJitcaError(error, ErrorCodes.REQUEST_CHANGED)) throw error;
    return requireRequest(context.store, request.id);
  }
  return { ...request, state: 'expired', version: request.version + 1 };
}

function recordExpiry(context: SshIssuanceContext, request: StoredRequest): Promise<void> {
  return recordSystemChange(context, request, { state: 'expired', decision: request.decision }, 'request.expired');
}

/**
 * A record jitca itself writes about a request's window (expired, nearing its end), with the row
 * as it is but for `change`, fenced by the version it was read at: a person's decision that landed
 * in between wins (ERR_REQUEST_CHANGED), and nothing is written.
 */
export async function recordSystemChange(
  context: SshIssuanceContext,
  request: StoredRequest,
  change: { state: 'expired' | 'pending'; decision: Record<string, unknown> },
  type: 'request.expired' | 'request.expiring',
): Promise<void> {
  await context.store.recordDecision({
    request: {
      id: request.id,
      kind: request.kind,
      requester: request.requester,
      role: request.role,
      state: change.state,
      body: request.body,
      decision: change.decision,
      createdAt: request.createdAt,
      expiresAt: request.expiresAt,
      expectedVersion: request.version,
    },
    event: auditEvent(type, { subject: 'system', groups: [], via: 'local-cli' }, request.id, {
      requester: requesterOf(request).subject,
      expiresAt: request.expiresAt,
    }),
  });
}

/**
 * Expires every pending request whose window closed (audited as request.expired), so the pending
 * gauge and the audit log do not wait for someone to look at the request. Returns how many.
 */
export async function sweepExpiredRequests(context: SshIssuanceContext): Promise<number> {
  const overdue = await context.store.listOverduePending(new Date(context.clock.now()).toISOString());
  for (const request of overdue) await expireIfDue(context, request);
  return overdue.length;
}

/** The identity a request was made under, as recorded with it. */
export function requesterOf(request: StoredRequest): Identity {
  const stored = request.body['identity'] as Partial<Identity> | undefined;
  return {
    subject: request.requester,
    groups: Array.isArray(stored?.groups) ? stored.groups.filter((group): group is string => typeof group === 'string') : [],
    via: stored?.via ?? 'oidc',
    actingFor: typeof stored?.actingFor === 'string' ? stored.actingFor : undefined,
  };
}
