import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticatedIdentity } from './authenticate.ts';

/**
 * One log line per request, saying who asked (the authenticated subject, how, and for whom a
 * gateway spoke), which role, the certificate serial and jitca request id, and the error code and
 * rule of a refusal: what an operator needs to answer "who got what" from the logs alone. Never a
 * token, certificate or body: the values are taken from the identity, from what a route notes,
 * and from the few plain fields of the reply named below.
 *
 * Replaces fastify's two lines per request ("incoming request", "request completed"). A client
 * waiting for approval polls GET /v1/requests/{id}... every 2 s: those lines are debug.
 */
export interface RequestLogFields {
  role?: string;
  serial?: string;
  requestId?: string;
  code?: string;
  rule?: string;
}

const notes = new WeakMap<FastifyRequest, RequestLogFields>();
/** Replies larger than this are not parsed for the log (a certificate reply is a few KiB). */
const MAX_PARSED_REPLY = 64 * 1024;
const PLAIN_VALUE = /^[A-Za-z0-9._:/-]{1,128}$/;

/** For a route that knows more than its reply says (the role a certificate was granted under). */
export function noteForLog(request: FastifyRequest, fields: RequestLogFields): void {
  notes.set(request, { ...notes.get(request), ...fields });
}

export function registerRequestLog(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (typeof payload === 'string' && payload.length <= MAX_PARSED_REPLY && String(reply.getHeader('content-type') ?? '').startsWith('application/json')) {
      const fields = replyFields(payload);
      if (fields !== undefined) notes.set(request, { ...fields, ...notes.get(request) });
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const identity = authenticatedIdentity(request);
    const route = request.routeOptions.url;
    const polling = request.method === 'GET' && route?.startsWith('/v1/requests/') === true;
    const asked = (request.body as { role?: unknown } | undefined)?.role;
    const line = {
      method: request.method,
      route: route ?? 'unmatched',
      statusCode: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime),
      remoteAddress: request.ip,
      ...(identity === undefined ? {} : { who: identity.subject, via: identity.via, ...(identity.actingFor === undefined ? {} : { actingFor: identity.actingFor }) }),
      ...(typeof asked === 'string' && PLAIN_VALUE.test(asked) ? { role: asked } : {}),
      ...notes.get(request),
    };
    if (polling) request.log.debug(line, 'request completed');
    else request.log.info(line, 'request completed');
  });
}

/** serial and requestId of a success, code, rule and requestId of a refusal; plain values only. */
function replyFields(payload: string): RequestLogFields | undefined {
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const details = typeof record['details'] === 'object' && record['details'] !== null ? (record['details'] as Record<string, unknown>) : {};
  const fields: RequestLogFields = {};
  const take = (key: keyof RequestLogFields, value: unknown): void => {
    if (typeof value === 'string' && PLAIN_VALUE.test(value)) fields[key] = value;
  };
  take('serial', record['serial']);
  take('requestId', record['requestId'] ?? details['requestId']);
  take('code', record['code']);
  take('rule', details['rule']);
  return fields;
}
