import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { bearerToken } from '../authn/bearer.ts';
import {
  actOnBehalf,
  ON_BEHALF_OF_HEADER,
  resolveGatewayIdentity,
  type GatewayAuthenticator,
  type GatewayCredential,
  type ServiceIdentity,
} from '../authn/gateway-identity.ts';
import type { LocalSessionVerifier } from '../authn/local-session.ts';
import type { OidcVerifier } from '../authn/oidc-verifier.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';
import { noteCallerAuthenticated, type ApiAuthenticator } from './authenticate.ts';

/**
 * Engineers present their own token (Authorization: Bearer): their OpenID provider's, or a jitca
 * session token from a local login (src/authn/local-session.ts), told apart by its type and issuer
 * and verified by its own verifier alone. The SSH gateway authenticates as itself (client
 * certificate, or its own token in Authorization) and carries the engineer's token in
 * X-Jitca-On-Behalf-Of; policy then sees the engineer, marked as arriving via the gateway.
 */
export function createApiAuthenticator(
  oidc: OidcVerifier | undefined,
  gateway: GatewayAuthenticator | undefined,
  local?: LocalSessionVerifier,
): ApiAuthenticator {
  const engineers = engineerTokens(oidc, local);
  return {
    async authenticate(request: FastifyRequest): Promise<Identity> {
      if (engineers === undefined) {
        throw new JitcaError(ErrorCodes.AUTHN_MISSING, 'this CA has no identity source configured (config "oidc" or "localIdentities"); only the local CLI can issue');
      }
      const onBehalfOf = singleHeader(request, ON_BEHALF_OF_HEADER);
      const authorization = singleHeader(request, 'authorization');
      if (onBehalfOf === undefined) return engineers.verify(bearerToken(authorization));
      if (gateway === undefined) throw new JitcaError(ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED, 'this CA accepts no gateway');
      const service = await resolveGatewayIdentity(gatewayCredential(request, gateway, authorization), gateway);
      noteCallerAuthenticated(request);
      const engineer = await engineers.verify(bearerToken(`Bearer ${onBehalfOf}`));
      return actOnBehalf(service, engineer);
    },
    async authenticateGateway(request: FastifyRequest): Promise<ServiceIdentity> {
      if (gateway === undefined) throw new JitcaError(ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED, 'this CA accepts no gateway');
      // These routes act on what the gateway presents (a certificate sshd verified), not on a token:
      // one that came anyway would be judged by nothing, so it is refused rather than ignored.
      if (singleHeader(request, ON_BEHALF_OF_HEADER) !== undefined) {
        throw new JitcaError(ErrorCodes.AUTHN_MALFORMED, `this route is for the gateway alone; send no ${ON_BEHALF_OF_HEADER} header`, {
          details: { header: ON_BEHALF_OF_HEADER },
        });
      }
      return resolveGatewayIdentity(gatewayCredential(request, gateway, singleHeader(request, 'authorization')), gateway);
    },
  };
}

function engineerTokens(oidc: OidcVerifier | undefined, local: LocalSessionVerifier | undefined): OidcVerifier | undefined {
  if (local === undefined) return oidc;
  return {
    verify(token) {
      if (local.claims(token) || oidc === undefined) return local.verify(token);
      return oidc.verify(token);
    },
  };
}

/**
 * The value of a credential header sent exactly once. Node keeps the first of repeated
 * Authorization headers and drops the rest, and joins repeated X-Jitca-On-Behalf-Of values with
 * ", " (Node http, message.headers): a request carrying two credentials would be judged by one of
 * them while a proxy in front may have acted on the other. Neither field is list-valued (RFC 9110
 * §5.3, §11.6.2), so a repeat is malformed, whatever the values.
 */
function singleHeader(request: FastifyRequest, name: 'authorization' | typeof ON_BEHALF_OF_HEADER): string | undefined {
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let index = 0; index < raw.length; index += 2) if (raw[index]?.toLowerCase() === name) count++;
  const value = request.headers[name];
  if (count > 1 || (value !== undefined && typeof value !== 'string')) {
    throw new JitcaError(ErrorCodes.AUTHN_MALFORMED, `the ${name} header must appear once`, { details: { header: name } });
  }
  return value;
}

function gatewayCredential(request: FastifyRequest, gateway: GatewayAuthenticator, authorization: string | undefined): GatewayCredential {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (gateway.certificates.length > 0 && typeof socket.getPeerCertificate === 'function') {
    const peerCertificate = socket.getPeerCertificate();
    if (peerCertificate !== null && Object.keys(peerCertificate).length > 0) {
      return { kind: 'certificate', peerCertificate, authorized: socket.authorized === true };
    }
  }
  return { kind: 'token', token: bearerToken(authorization) };
}
