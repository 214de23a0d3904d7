/**
 * The approver's side of the API, for `jitca requests` and `jitca approve|deny`: list the requests
 * one may see, show one, decide one. Replies are returned as the server sent them; request-text.ts
 * makes them terminal-safe text.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';
import { findReasonProblem } from '../policy/reason.ts';
import { requestJson } from './http-json.ts';
import { plainRequestId } from './request-id-text.ts';
import { serverRefusal } from './server-refusal.ts';

export interface ApiSession {
  server: string;
  token: string;
  ca?: Buffer;
}

export type RequestReply = Record<string, unknown>;

export interface ListFilter {
  state?: string;
  view?: 'mine' | 'to-approve';
}

/** Pages followed at most: what one command prints (the server's pages are 100 at most). */
const MAX_PAGES = 20;
const CURSOR = /^[A-Za-z0-9_-]{1,200}$/;

export async function listRequests(session: ApiSession, filter: ListFilter): Promise<{ requests: RequestReply[]; more: boolean }> {
  const requests: RequestReply[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query = new URLSearchParams({ limit: '100' });
    if (filter.state !== undefined) query.set('state', filter.state);
    if (filter.view !== undefined) query.set(filter.view, 'true');
    if (cursor !== undefined) query.set('cursor', cursor);
    const response = await requestJson(`${session.server}/v1/requests?${query.toString()}`, { headers: authorization(session), ca: session.ca });
    if (response.status !== 200) throw serverRefusal(response);
    const listed = response.body['requests'];
    if (!Array.isArray(listed)) throw new JitcaError(ErrorCodes.SERVER_REFUSED, 'the server answered the list without requests');
    requests.push(...listed.filter((item): item is RequestReply => typeof item === 'object' && item !== null));
    const next = response.body['nextCursor'];
    if (typeof next !== 'string') return { requests, more: false };
    // Goes back into the query string: a cursor is a plain token.
    if (!CURSOR.test(next)) throw new JitcaError(ErrorCodes.SERVER_REFUSED, 'the server answered with a malformed nextCursor');
    cursor = next;
  }
  return { requests, more: true };
}

export async function showRequest(session: ApiSession, id: string): Promise<RequestReply> {
  const response = await requestJson(`${session.server}/v1/requests/${plainRequestId(id, 'the request id')}`, { headers: authorization(session), ca: session.ca });
  if (response.status !== 200) throw serverRefusal(response);
  return response.body;
}

/**
 * Approves or denies; returns the request as it stands afterwards (who approved so far, or how
 * it ended), or undefined when the decision landed but reading it back did not. The reason is
 * checked here by the server's rule, so a bad one costs no round trip.
 */
export async function decideRequest(session: ApiSession, id: string, action: 'approve' | 'deny', reason: string): Promise<RequestReply | undefined> {
  plainRequestId(id, 'the request id');
  const problem = findReasonProblem(reason);
  if (problem !== undefined) throw new JitcaError(ErrorCodes.REQUEST_INVALID, problem);
  const response = await requestJson(`${session.server}/v1/requests/${id}/${action}`, { body: { reason }, headers: authorization(session), ca: session.ca });
  if (response.status !== 200 && response.status !== 201 && response.status !== 204) throw serverRefusal(response);
  return showRequest(session, id).catch(() => undefined);
}

function authorization(session: ApiSession): Record<string, string> {
  return { authorization: `Bearer ${session.token}` };
}
