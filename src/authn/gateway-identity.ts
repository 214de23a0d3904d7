import type { PeerCertificate } from 'node:tls';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';
import { MAX_NAME_LENGTH } from './identity-claims.ts';
import { createJwtVerifier, type JwtVerifier, type VerifierOptions } from './jwt-verifier.ts';
import type { JwtVerifierConfig } from './jwt-verifier-config.ts';
import { parseSubjectAltNames } from './subject-alt-names.ts';

/**
 * The SSH gateway is a service, not a person. It proves that with an mTLS client certificate
 * (verified by the TLS layer against a gateway-only CA; here it is only mapped to a name) or with a
 * JWT from an issuer, for an audience of its own, naming an allowlisted client. It then asks on
 * behalf of an engineer whose own token travels in ON_BEHALF_OF_HEADER.
 */
export interface ServiceIdentity {
  service: string;
}

/** Header carrying the engineer's bearer token when the gateway calls jitca's API. */
export const ON_BEHALF_OF_HEADER = 'x-jitca-on-behalf-of';

/** One allowlist entry: a certificate with this subject CN, or with this SAN URI, is `service`. */
export type GatewayCertificateRule =
  | { service: string; commonName: string; uri?: never }
  | { service: string; uri: string; commonName?: never };

export interface GatewayTokenConfig extends JwtVerifierConfig {
  /** Client ids allowed to act as the gateway; the value of `clientClaim` must be one of them. */
  allowedClients: string[];
  /** Claim naming the client: `client_id` (RFC 9068 §2.2, default), `azp`, or `sub`. */
  clientClaim?: 'client_id' | 'azp' | 'sub';
  /**
   * Require `sub` to equal the client id (default true): RFC 9068 §2.2 tokens from the client
   * credentials grant name the client as subject, so a token the gateway client obtained for a
   * *person* (sub = that person) is not a service credential.
   */
  requireSubjectIsClient?: boolean;
}

export interface GatewayAuthenticatorConfig {
  certificates?: GatewayCertificateRule[];
  token?: GatewayTokenConfig;
  /**
   * The engineer-token audience(s). Given, start-up refuses a gateway audience that overlaps it, and
   * a gateway token that also names one of them is refused, so no token passes as both.
   */
  engineerAudience?: string | string[];
}

export type GatewayCredential =
  /** From a TLS socket: `socket.getPeerCertificate()` and `socket.authorized`. */
  | { kind: 'certificate'; peerCertificate: Partial<PeerCertificate>; authorized: boolean }
  | { kind: 'token'; token: string };

export interface GatewayAuthenticator {
  readonly certificates: readonly GatewayCertificateRule[];
  readonly tokenVerifier: { verify(token: string): Promise<ServiceIdentity> } | undefined;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function configInvalid(message: string): JitcaError {
  return new JitcaError(ErrorCodes.CONFIG_INVALID, message);
}

function notAllowed(message: string, reason: string): JitcaError {
  return new JitcaError(ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED, message, { details: { reason } });
}

function validName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_NAME_LENGTH && !CONTROL.test(value);
}

function checkRules(rules: GatewayCertificateRule[]): GatewayCertificateRule[] {
  for (const rule of rules) {
    if (!validName(rule.service)) throw configInvalid('every gateway certificate rule needs a service name of 1 to 256 printable characters');
    const hasCn = rule.commonName !== undefined;
    const hasUri = rule.uri !== undefined;
    if (hasCn === hasUri) throw configInvalid(`gateway rule for ${rule.service} must name exactly one of commonName or uri`);
    const name = rule.commonName ?? rule.uri;
    // Quotes and commas never appear unquoted in Node's SAN string; refusing them in the allowlist
    // keeps exact comparison meaningful (subject-alt-names.ts).
    if (!validName(name) || /[",\s]/.test(name)) {
      throw configInvalid(`gateway rule for ${rule.service} has an empty name or one containing quotes, commas or whitespace`);
    }
  }
  return rules.map((rule) => ({ ...rule }));
}

function audiences(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

function createGatewayTokenVerifier(config: GatewayTokenConfig, options: VerifierOptions): { verify(token: string): Promise<ServiceIdentity> } {
  const clientClaim = config.clientClaim ?? 'client_id';
  if (!['client_id', 'azp', 'sub'].includes(clientClaim)) throw configInvalid('clientClaim must be client_id, azp or sub');
  const requireSubjectIsClient = config.requireSubjectIsClient ?? true;
  if (!Array.isArray(config.allowedClients) || config.allowedClients.length === 0 || !config.allowedClients.every(validName)) {
    throw configInvalid('gateway token allowedClients must list at least one client id');
  }
  const allowed = new Set(config.allowedClients);
  const jwt: JwtVerifier = createJwtVerifier(config, options);
  return {
    async verify(token: string): Promise<ServiceIdentity> {
      const payload = await jwt.verify(token, ['sub', clientClaim]);
      const client = payload[clientClaim];
      if (!validName(client)) {
        throw new JitcaError(ErrorCodes.AUTHN_CLAIMS, `the "${clientClaim}" claim must be a string of 1 to 256 printable characters`, {
          details: { reason: 'client', claim: clientClaim },
        });
      }
      if (!allowed.has(client)) throw notAllowed('the token\'s client is not an allowlisted SSH gateway', 'client');
      if (requireSubjectIsClient && payload.sub !== client) {
        throw notAllowed('the token was issued for a person, not to the gateway as a service (sub differs from the client id)', 'subject');
      }
      return { service: client };
    },
  };
}

/** Validates the configuration once at start-up; holds the gateway JWT verifier and its key cache. */
export function createGatewayAuthenticator(config: GatewayAuthenticatorConfig, options: VerifierOptions = {}): GatewayAuthenticator {
  const certificates = checkRules(config.certificates ?? []);
  if (config.token !== undefined) {
    const engineer = new Set(audiences(config.engineerAudience));
    const overlap = audiences(config.token.audience).filter((a) => engineer.has(a));
    if (overlap.length > 0) {
      throw configInvalid('the gateway token audience must differ from the engineer token audience, or either token would pass as the other');
    }
  }
  if (certificates.length === 0 && config.token === undefined) {
    throw configInvalid('gateway authentication needs certificate rules, a token configuration, or both');
  }
  return {
    certificates,
    tokenVerifier: config.token === undefined
      ? undefined
      : createGatewayTokenVerifier(config.token, { ...options, foreignAudiences: [...audiences(config.engineerAudience), ...(options.foreignAudiences ?? [])] }),
  };
}

/**
 * Maps a client certificate the TLS layer verified to a gateway service. Matches the subject CN
 * (a single CN only) or any SAN URI exactly; a certificate matching rules of two different services
 * is refused as ambiguous.
 */
export function serviceFromCertificate(
  peerCertificate: Partial<PeerCertificate>,
  authorized: boolean,
  rules: readonly GatewayCertificateRule[],
): ServiceIdentity {
  if (peerCertificate === null || typeof peerCertificate !== 'object' || peerCertificate.raw === undefined) {
    throw new JitcaError(ErrorCodes.AUTHN_MISSING, 'no client certificate was presented');
  }
  // Defence in depth: with `requestCert: true, rejectUnauthorized: false` the TLS layer lets an
  // unverified certificate through and only reports it here.
  if (!authorized) {
    throw new JitcaError(ErrorCodes.AUTHN_SIGNATURE, 'the client certificate did not verify against the gateway CA');
  }
  const subject: unknown = peerCertificate.subject;
  const cn = typeof subject === 'object' && subject !== null ? (subject as Record<string, unknown>)['CN'] : undefined;
  const commonName = typeof cn === 'string' ? cn : undefined; // several CNs (an array) match nothing
  const sanText = peerCertificate.subjectaltname;
  const sans = typeof sanText === 'string' && sanText.length > 0 ? parseSubjectAltNames(sanText) : [];
  if (sans === undefined) throw notAllowed('the client certificate\'s subject alternative names could not be read unambiguously', 'san');
  const uris = new Set(sans.filter((name) => name.type === 'URI').map((name) => name.value));
  const services = new Set<string>();
  for (const rule of rules) {
    if ((rule.commonName !== undefined && rule.commonName === commonName) || (rule.uri !== undefined && uris.has(rule.uri))) {
      services.add(rule.service);
    }
  }
  if (services.size !== 1) {
    throw notAllowed(
      services.size === 0 ? 'the client certificate does not name an allowlisted SSH gateway' : 'the client certificate matches more than one gateway service',
      services.size === 0 ? 'certificate' : 'ambiguous',
    );
  }
  return { service: [...services][0] as string };
}

/** Authenticates the SSH gateway from one credential; throws JitcaError (ERR_AUTHN_*). */
export async function resolveGatewayIdentity(credential: GatewayCredential, gateway: GatewayAuthenticator): Promise<ServiceIdentity> {
  if (credential.kind === 'certificate') {
    if (gateway.certificates.length === 0) throw notAllowed('gateway certificates are not accepted by this configuration', 'method');
    return serviceFromCertificate(credential.peerCertificate, credential.authorized, gateway.certificates);
  }
  if (gateway.tokenVerifier === undefined) throw notAllowed('gateway tokens are not accepted by this configuration', 'method');
  return gateway.tokenVerifier.verify(credential.token);
}

/**
 * The identity policy sees when the gateway asks for an engineer: the engineer's subject and
 * groups (from the engineer's own verified token), marked as arriving through the gateway.
 */
export function actOnBehalf(service: ServiceIdentity, engineer: Identity): Identity {
  if (!validName(service.service)) throw new JitcaError(ErrorCodes.AUTHN_CLAIMS, 'the gateway service name is invalid');
  // Only a person authenticated by their own token (OIDC, or a local identity's jitca session):
  // never a chain of gateways, never the CLI.
  if ((engineer.via !== 'oidc' && engineer.via !== 'local') || engineer.actingFor !== undefined) {
    throw new JitcaError(ErrorCodes.AUTHN_CLAIMS, 'a gateway may act only for an engineer authenticated by their own token (OIDC or a local session)', {
      details: { reason: 'on_behalf_of' },
    });
  }
  return { subject: engineer.subject, groups: [...engineer.groups], via: 'gateway', actingFor: service.service };
}
