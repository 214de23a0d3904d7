import type { FastifyPluginAsync } from 'fastify';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { SshIssuanceContext } from '../issuance/issue-ssh-certificate.ts';
import { sweepExpiredRequests } from '../issuance/request-lifecycle.ts';
import { requestScope, type RequestView } from '../policy/request-visibility.ts';
import type { RequestState } from '../store/types.ts';
import { identityOf, type IdentityHook } from './authenticate.ts';
import { issuedCertificateOf } from './issued-certificate.ts';
import { decodeRequestCursor, encodeRequestCursor } from './request-cursor.ts';
import { requestView } from './request-view.ts';
import {
  DEFAULT_REQUEST_LIST_PAGE,
  errorResponses,
  MAX_REQUEST_LIST_PAGE,
  requestListQuerySchema,
  requestListReplySchema,
} from './schemas.ts';

export interface RequestListRoutesOptions {
  /** The context under the policy in force, asked once per request (app.ts). */
  issuance: () => SshIssuanceContext;
  /** Authenticates the person and counts the request against their rate limit (app.ts). */
  preValidation: IdentityHook;
}

interface ListQuery {
  state?: RequestState;
  mine?: string;
  'to-approve'?: string;
  limit?: string;
  cursor?: string;
}

const ALL_STATES: RequestState[] = ['pending', 'approved', 'issued', 'denied', 'expired'];

/**
 * GET /v1/requests: the requests the caller may see (their own, and those of roles they approve;
 * through the gateway only roles that accept it), newest first, a page at a time.
 */
export function requestListRoutes(options: RequestListRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: ListQuery }>(
      '/v1/requests',
      {
        preValidation: options.preValidation,
        schema: {
          summary: 'requests the caller may see: their own and those of roles they approve, newest first',
          querystring: requestListQuerySchema,
          response: { 200: requestListReplySchema, ...errorResponses },
        },
      },
      async (request) => {
        const issuance = options.issuance();
        const query = request.query;
        const view = viewOf(query);
        const limit = query.limit === undefined ? DEFAULT_REQUEST_LIST_PAGE : Number(query.limit);
        if (limit > MAX_REQUEST_LIST_PAGE) {
          throw new JitcaError(ErrorCodes.REQUEST_INVALID, `limit must be at most ${MAX_REQUEST_LIST_PAGE}`, { details: { path: '/limit' } });
        }
        const after = query.cursor === undefined ? undefined : decodeRequestCursor(query.cursor);
        // A pending request past its expiry is expired first (as GET /v1/requests/{id} does), so
        // a list of pending requests holds only what can still be approved.
        await sweepExpiredRequests(issuance);
        const identity = identityOf(request);
        // One more than the page: whether there is a next page is known without an empty last one.
        const found = await issuance.store.listRequests({
          states: query.state === undefined ? ALL_STATES : [query.state],
          scope: requestScope(issuance.policy, identity, view),
          ...(after === undefined ? {} : { after }),
          limit: limit + 1,
        });
        const page = found.slice(0, limit);
        const now = new Date(issuance.clock.now());
        const requests = await Promise.all(
          page.map(async (stored) => {
            const [approvals, issued] = await Promise.all([issuance.store.listApprovals(stored.id), issuedCertificateOf(issuance.store, stored)]);
            return requestView(stored, approvals, { policy: issuance.policy, identity, now, ...(issued === undefined ? {} : { issued }) });
          }),
        );
        const last = page.at(-1);
        return found.length > limit && last !== undefined ? { requests, nextCursor: encodeRequestCursor(last) } : { requests };
      },
    );
  };
}

function viewOf(query: ListQuery): RequestView {
  if (query.mine !== undefined && query['to-approve'] !== undefined) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'mine and to-approve exclude each other: give one or neither', { details: { path: '/to-approve' } });
  }
  if (query.mine !== undefined) return 'mine';
  if (query['to-approve'] !== undefined) return 'to-approve';
  return 'all';
}
