import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import type { ServiceIdentity } from '../authn/gateway-identity.ts';
import type { Identity } from '../policy/types.ts';
import type { AuthFailureLimiter } from './auth-failure-limit.ts';

/** Turns an HTTP request into an authenticated identity (OIDC engineer, or gateway acting for one). */
export interface ApiAuthenticator {
  authenticate(request: FastifyRequest): Promise<Identity>;
  /** The SSH gateway as itself, carrying no engineer's token: for the routes only the gateway calls. */
  authenticateGateway(request: FastifyRequest): Promise<ServiceIdentity>;
}

/** What every route that acts for a person runs before its body is judged (app.ts builds it). */
export type IdentityHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

const identities = new WeakMap<FastifyRequest, Identity>();
const services = new WeakMap<FastifyRequest, ServiceIdentity>();
/** Requests whose caller (the gateway) proved itself even if the engineer's token it carried did not. */
const callersAuthenticated = new WeakSet<FastifyRequest>();

/**
 * preHandler: authenticates or ends the request with 401/503; never lets an anonymous one through.
 * With `failures`, an address that has used up its failed authentications is refused (429) before
 * its credential is looked at, and each failure of the caller's own credential counts.
 */
export function authenticateHook(
  authenticator: ApiAuthenticator,
  failures?: AuthFailureLimiter,
): IdentityHook {
  return limitedAuthentication(failures, async (request) => {
    identities.set(request, await authenticator.authenticate(request));
  });
}

/** As authenticateHook, for the routes only the SSH gateway calls: the caller must be the gateway itself. */
export function authenticateGatewayHook(authenticator: ApiAuthenticator, failures?: AuthFailureLimiter): IdentityHook {
  return limitedAuthentication(failures, async (request) => {
    services.set(request, await authenticator.authenticateGateway(request));
  });
}

function limitedAuthentication(failures: AuthFailureLimiter | undefined, authenticate: (request: FastifyRequest) => Promise<void>): IdentityHook {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const address = request.raw.socket.remoteAddress;
    try {
      failures?.admit(address);
    } catch (error) {
      const retryAfter = isJitcaError(error) ? error.details?.['retryAfterSeconds'] : undefined;
      if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
      throw error;
    }
    try {
      await authenticate(request);
    } catch (error) {
      // A gateway relaying an engineer's expired token has not failed to authenticate itself.
      if (!callersAuthenticated.has(request)) failures?.recordFailure(address);
      throw error;
    }
  };
}

/** Called once the caller's own credential verified (the gateway, before the token it carries). */
export function noteCallerAuthenticated(request: FastifyRequest): void {
  callersAuthenticated.add(request);
}

export function identityOf(request: FastifyRequest): Identity {
  const identity = identities.get(request);
  if (identity === undefined) throw new JitcaError(ErrorCodes.AUTHN_MISSING, 'request is not authenticated');
  return identity;
}

export function serviceOf(request: FastifyRequest): ServiceIdentity {
  const service = services.get(request);
  if (service === undefined) throw new JitcaError(ErrorCodes.AUTHN_MISSING, 'request is not authenticated as the gateway');
  return service;
}

/** Who the request was authenticated as, if it was (the request log: never throws). */
export function authenticatedIdentity(request: FastifyRequest): Identity | undefined {
  return identities.get(request);
}

/** Rate limits key on the authenticated person, not the address (a gateway speaks for many). */
export function rateLimitKey(request: FastifyRequest): string {
  return identities.get(request)?.subject ?? `ip:${request.ip}`;
}
