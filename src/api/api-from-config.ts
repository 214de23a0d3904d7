import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { createGatewayAuthenticator, type GatewayAuthenticator, type GatewayCertificateRule } from '../authn/gateway-identity.ts';
import { discoverJwksUri } from '../authn/oidc-discovery.ts';
import { createOidcVerifier, discoverOidcVerifier, type OidcVerifier } from '../authn/oidc-verifier.ts';
import { loadAttestationTrust } from '../attestation/shipped-roots.ts';
import { localLoginFor } from './local-login-from-runtime.ts';
import type { CaRuntime } from '../ca-runtime.ts';
import { hardwareAttestationVerifier } from '../enrollment/hardware-attestation-verifier.ts';
import type { JitcaConfig } from '../config.ts';
import { buildApp, type AppOptions } from './app.ts';
import { createApiAuthenticator } from './request-authenticator.ts';

/** Builds the API as configured: identity provider, gateway identity, TLS. */
export async function buildAppFromConfig(
  runtime: CaRuntime,
  config: JitcaConfig,
  logger: AppOptions['logger'] = { level: config.server.logLevel },
  extras: Pick<AppOptions, 'leadership' | 'notificationCounters'> = {},
): Promise<FastifyInstance> {
  const engineers = await engineerVerifier(config);
  const gateway = await gatewayAuthenticator(config);
  const tls = config.server.tls;
  const local = localLoginFor(runtime);
  return buildApp(runtime, {
    authenticator: createApiAuthenticator(engineers, gateway, local?.verifier),
    ...(local === undefined ? {} : { localLogin: local.login }),
    // Read at start: a root file that cannot be read stops serve rather than refusing enrollments later.
    attestationVerifier: hardwareAttestationVerifier(loadAttestationTrust(config.attestation), () => new Date(runtime.sshIssuance.clock.now())),
    logger,
    ...extras,
    ...(config.console === undefined || config.oidc === undefined
      ? {}
      : { console: { issuer: config.oidc.issuer, clientId: config.console.clientId, scope: config.console.scope, resource: config.console.resource } }),
    rateLimitPerMinute: config.server.rateLimitPerMinute,
    authFailureLimit: { perMinute: config.server.authFailuresPerMinute, exemptLoopback: config.server.authFailuresExemptLoopback },
    connectionLimits: {
      requestTimeoutMs: config.server.requestTimeoutMs,
      maxConnections: config.server.maxConnections,
      maxConnectionsPerAddress: config.server.maxConnectionsPerAddress,
    },
    https:
      tls === undefined
        ? undefined
        : {
            cert: readFileSync(tls.certFile),
            key: readFileSync(tls.keyFile),
            ...(tls.clientCaFile === undefined
              ? {}
              : // Engineers connect without client certificates; only the gateway presents one.
                { ca: readFileSync(tls.clientCaFile), requestCert: true, rejectUnauthorized: false }),
          },
  });
}

async function engineerVerifier(config: JitcaConfig): Promise<OidcVerifier | undefined> {
  if (config.oidc === undefined) return undefined;
  // A token that also names the gateway's audience is the gateway's, not an engineer's.
  const gatewayAudience = config.gateway?.token?.audience;
  const options = { foreignAudiences: gatewayAudience === undefined ? [] : [gatewayAudience].flat() };
  return config.oidc.jwksUri === undefined ? discoverOidcVerifier(config.oidc, options) : createOidcVerifier(config.oidc, options);
}

async function gatewayAuthenticator(config: JitcaConfig): Promise<GatewayAuthenticator | undefined> {
  const gateway = config.gateway;
  if (gateway === undefined) return undefined;
  const token = gateway.token === undefined ? undefined : { ...gateway.token, jwksUri: gateway.token.jwksUri ?? (await discoverJwksUri(gateway.token.issuer)) };
  // The file's schema cannot say "commonName or uri, not both"; createGatewayAuthenticator checks each rule.
  const certificates = gateway.certificates as GatewayCertificateRule[] | undefined;
  return createGatewayAuthenticator({ certificates, token, engineerAudience: config.oidc?.audience });
}
