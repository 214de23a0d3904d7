import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, errorClasses, isJitcaError, type ErrorCode } from '../errors.ts';

/**
 * Error codes become HTTP statuses through the one table in errors.ts (CONTRIBUTING.md, "The
 * error table"). Clients match on `code`; the status says whose fault it was: 4xx the caller's
 * (nothing was written), 503 a part that will come back.
 */
export function httpStatusFor(code: ErrorCode | string): number {
  return Object.hasOwn(errorClasses, code) ? errorClasses[code as ErrorCode].status : 500;
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
