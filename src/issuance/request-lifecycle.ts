import { ErrorCodes, JitcaError } from '../errors.ts';
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
 * and by the periodic sweep; it can then never be approved.
 */
export async function expireIfDue(context: SshIssuanceContext, request: StoredRequest): Promise<StoredRequest> {
  if (request.state !== 'pending' || request.expiresAt === undefined) return request;
  const now = context.clock.now();
  if (Date.parse(request.expiresAt) > now) return request;
  const requester = requesterOf(request);
  await context.store.recordDecision({
    request: {
      id: request.id,
      kind: request.kind,
      requester: request.requester,
      role: request.role,
      state: 'expired',
      body: request.body,
      decision: request.decision,
      createdAt: request.createdAt,
      expiresAt: request.expiresAt,
    },
    event: auditEvent('request.expired', { subject: 'system', groups: [], via: 'local-cli' }, request.id, {
      requester: requester.subject,
      expiresAt: request.expiresAt,
    }),
  });
  return { ...request, state: 'expired' };
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
