import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { bearerToken } from '../authn/bearer.ts';
import {
  actOnBehalf,
  ON_BEHALF_OF_HEADER,
  resolveGatewayIdentity,
  type GatewayAuthenticator,
  type GatewayCredential,
} from '../authn/gateway-identity.ts';
import type { OidcVerifier } from '../authn/oidc-verifier.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';
import type { ApiAuthenticator } from './authenticate.ts';

/**
 * Engineers present their own OIDC token (Authorization: Bearer). The SSH gateway authenticates as
 * itself (client certificate, or its own token in Authorization) and carries the engineer's token
 * in X-Jitca-On-Behalf-Of; policy then sees the engineer, marked as arriving via the gateway.
 */
export function createApiAuthenticator(engineers: OidcVerifier | undefined, gateway: GatewayAuthenticator | undefined): ApiAuthenticator {
  return {
    async authenticate(request: FastifyRequest): Promise<Identity> {
      if (engineers === undefined) {
        throw new JitcaError(ErrorCodes.AUTHN_MISSING, 'this CA has no identity provider configured (config "oidc"); only the local CLI can issue');
      }
      const onBehalfOf = request.headers[ON_BEHALF_OF_HEADER];
      if (onBehalfOf === undefined) return engineers.verify(bearerToken(request.headers.authorization));
      if (gateway === undefined) throw new JitcaError(ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED, 'this CA accepts no gateway');
      if (typeof onBehalfOf !== 'string') throw new JitcaError(ErrorCodes.AUTHN_MALFORMED, `${ON_BEHALF_OF_HEADER} must appear once`);
      const service = await resolveGatewayIdentity(gatewayCredential(request, gateway), gateway);
      const engineer = await engineers.verify(bearerToken(`Bearer ${onBehalfOf}`));
      return actOnBehalf(service, engineer);
    },
  };
}

function gatewayCredential(request: FastifyRequest, gateway: GatewayAuthenticator): GatewayCredential {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (gateway.certificates.length > 0 && typeof socket.getPeerCertificate === 'function') {
    const peerCertificate = socket.getPeerCertificate();
    if (peerCertificate !== null && Object.keys(peerCertificate).length > 0) {
      return { kind: 'certificate', peerCertificate, authorized: socket.authorized === true };
    }
  }
  return { kind: 'token', token: bearerToken(request.headers.authorization) };
}
