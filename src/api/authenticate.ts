import type { FastifyRequest } from 'fastify';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';

/** Turns an HTTP request into an authenticated identity (OIDC engineer, or gateway acting for one). */
export interface ApiAuthenticator {
  authenticate(request: FastifyRequest): Promise<Identity>;
}

const identities = new WeakMap<FastifyRequest, Identity>();

/** preHandler: authenticates or ends the request with 401/503; never lets an anonymous one through. */
export function authenticateHook(authenticator: ApiAuthenticator): (request: FastifyRequest) => Promise<void> {
  return async (request: FastifyRequest): Promise<void> => {
    identities.set(request, await authenticator.authenticate(request));
  };
}

export function identityOf(request: FastifyRequest): Identity {
  const identity = identities.get(request);
  if (identity === undefined) throw new JitcaError(ErrorCodes.AUTHN_MISSING, 'request is not authenticated');
  return identity;
}

/** Rate limits key on the authenticated person, not the address (a gateway speaks for many). */
export function rateLimitKey(request: FastifyRequest): string {
  return identities.get(request)?.subject ?? `ip:${request.ip}`;
}
