import { ErrorCodes, isJitcaError } from '../errors.ts';
import type { StoredRequest } from '../store/types.ts';
import type { SshIssuanceContext } from './issue-ssh-certificate.ts';
import { recordSystemChange } from './request-lifecycle.ts';

/** Kept in the pending row's decision once announced, so each request is announced once. */
const ANNOUNCED = 'expiringAnnouncedAt';

/**
 * Announces (audited as request.expiring, which the outbox turns into an `expiring` notification)
 * each pending request whose approval window ends within `noticeSeconds`, once: the row's decision
 * records that it was announced, in the same transaction as the record. The write carries the
 * row's version, so an approval or denial that lands in between wins and nothing is announced for
 * a request already decided; the approver's own write, if it loses instead, is decided again
 * (approve-request.ts). Returns how many were announced.
 */
export async function announceExpiringRequests(context: SshIssuanceContext, noticeSeconds: number): Promise<number> {
  if (noticeSeconds <= 0) return 0;
  const now = context.clock.now();
  const soon = await context.store.listOverduePending(new Date(now + noticeSeconds * 1000).toISOString());
  let announced = 0;
  for (const request of soon) {
    if (!needsNotice(request, now, noticeSeconds * 1000)) continue;
    try {
      await recordNotice(context, request, now);
      announced += 1;
    } catch (error) {
      if (!isJitcaError(error, ErrorCodes.REQUEST_CHANGED)) throw error;
    }
  }
  return announced;
}

/**
 * Undecided, not yet announced, and within the notice of its end. A window shorter than twice the
 * notice is announced at its half instead: a request made with five minutes to approve is not
 * announced as expiring in the same minute as it is announced as pending.
 */
function needsNotice(request: StoredRequest, now: number, noticeMs: number): boolean {
  if (request.expiresAt === undefined || request.decision[ANNOUNCED] !== undefined) return false;
  const expiresAt = Date.parse(request.expiresAt);
  const left = expiresAt - now;
  return left > 0 && left <= Math.min(noticeMs, (expiresAt - Date.parse(request.createdAt)) / 2);
}

function recordNotice(context: SshIssuanceContext, request: StoredRequest, now: number): Promise<void> {
  return recordSystemChange(context, request, { state: 'pending', decision: { ...request.decision, [ANNOUNCED]: new Date(now).toISOString() } }, 'request.expiring');
}
