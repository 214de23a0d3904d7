import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, isJitcaError, type ErrorCode } from '../errors.ts';

/**
 * The one place error codes become HTTP statuses (STYLE.md). Clients match on `code`; the status
 * says whose fault it was: 4xx the caller's (nothing was written), 503 a part that will come back.
 */
const statusByPrefix: Array<[RegExp, number]> = [
  [/^ERR_AUTHN_UNAVAILABLE$/, 503],
  [/^ERR_AUTHN_/, 401],
  [/^ERR_(POLICY_DENIED|APPROVAL_REFUSED|FORBIDDEN)$/, 403],
  [/^ERR_(REQUEST|CERTIFICATE|ROUTE)_NOT_FOUND$/, 404],
  [/^ERR_(REQUEST_NOT_PENDING|REQUEST_CHANGED|STORE_CONFLICT)$/, 409],
  [/^ERR_INPUT_TOO_LARGE$/, 413],
  [/^ERR_RATE_LIMITED$/, 429],
  [/^ERR_(HSM|STORE)_/, 503],
  [/^ERR_(REQUEST_INVALID|TTL_INVALID|KEY_|WIRE_|CSR_)/, 400],
];

export function httpStatusFor(code: ErrorCode | string): number {
  for (const [pattern, status] of statusByPrefix) if (pattern.test(code)) return status;
  return 500;
}

export interface ErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export function errorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (isJitcaError(error)) {
    const status = httpStatusFor(error.code);
    if (status >= 500) request.log.warn({ code: error.code }, error.message);
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    if (status === 503) reply.header('retry-after', '1');
    void reply.code(status).send(body);
    return;
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) {
    const first = fastifyError.validation[0];
    const path = first?.instancePath || '/';
    void reply.code(400).send({
      code: ErrorCodes.REQUEST_INVALID,
      message: `${fastifyError.validationContext ?? 'request'}${path === '/' ? '' : path} ${first?.message ?? 'is invalid'}`,
      details: { path, keyword: first?.keyword },
    } satisfies ErrorBody);
    return;
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code =
      status === 413 ? ErrorCodes.INPUT_TOO_LARGE : status === 429 ? ErrorCodes.RATE_LIMITED : ErrorCodes.REQUEST_INVALID;
    void reply.code(status).send({ code, message: fastifyError.message } satisfies ErrorBody);
    return;
  }
  request.log.error({ err: error }, 'unexpected error');
  void reply.code(500).send({ code: 'ERR_INTERNAL', message: 'internal error' } satisfies ErrorBody);
}
