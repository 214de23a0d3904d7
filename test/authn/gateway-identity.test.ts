import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import type { Identity } from '../../src/policy/types.ts';
import {
  actOnBehalf,
  createGatewayAuthenticator,
  resolveGatewayIdentity,
  type GatewayAuthenticator,
  type GatewayAuthenticatorConfig,
  type GatewayCertificateRule,
  type GatewayCredential,
} from '../../src/authn/gateway-identity.ts';
import { createOidcVerifier, type OidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { startOidcProvider, CLI_CLIENT_ID, GATEWAY_CLIENT_ID, type OidcTestProvider } from '../support/oidc-provider.ts';
import { expectAuthnError, expectAuthnErrorSync } from './authn-assertions.ts';

const API = 'urn:jitca:api';
const GATEWAY = 'urn:jitca:gateway';
const GATEWAY_URI = 'spiffe://cluster.local/ns/jitca/sa/ssh-gateway';
const BASTION_URI = 'spiffe://cluster.local/ns/jitca/sa/bastion';

const rules: GatewayCertificateRule[] = [
  { service: 'ssh-gateway', commonName: 'jitca-ssh-gateway' },
  { service: 'ssh-gateway', uri: GATEWAY_URI },
  { service: 'bastion', uri: BASTION_URI },
];

let dir: string;
let idp: OidcTestProvider;
let gateway: GatewayAuthenticator;
let engineers: OidcVerifier;
let server: tls.Server;
let nextPeer: ((credential: GatewayCredential & { kind: 'certificate'; subjectaltname: string | undefined }) => void) | undefined;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A P-256 key and a certificate for `subject`, signed by `ca`, with optional extensions. */
function issue(name: string, subject: string, ca: string, extensions: string[] = ['extendedKeyUsage=clientAuth']): void {
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  writeFileSync(path.join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-out', `${name}.crt`, '-extfile', `${name}.ext`);
}

const file = (name: string): Buffer => readFileSync(path.join(dir, name));

/** Connects with the named client certificate (or none) and returns what the server's TLS socket saw. */
async function peerPresenting(certificate: string | undefined): Promise<GatewayCredential & { kind: 'certificate'; subjectaltname: string | undefined }> {
  const seen = new Promise<GatewayCredential & { kind: 'certificate'; subjectaltname: string | undefined }>((resolve) => {
    nextPeer = resolve;
  });
  const client = tls.connect({
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    ca: file('gateway-ca.crt'),
    checkServerIdentity: () => undefined,
    ...(certificate === undefined ? {} : { key: file(`${certificate}.key`), cert: file(`${certificate}.crt`) }),
  });
  client.on('error', () => undefined);
  const peer = await seen;
  client.destroy();
  return peer;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'jitca-authn-gateway-'));
  for (const ca of ['gateway-ca', 'other-ca']) {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '1');
  }
  issue('server', '/CN=jitca-api', 'gateway-ca', ['subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth']);
  issue('gw-cn', '/O=jitca/CN=jitca-ssh-gateway', 'gateway-ca');
  issue('gw-uri', '/CN=pod-7f9c', 'gateway-ca', [`subjectAltName=URI:${GATEWAY_URI},DNS:gw.jitca.svc`, 'extendedKeyUsage=clientAuth']);
  issue('stranger', '/CN=alice', 'gateway-ca');
  issue('rogue', '/CN=jitca-ssh-gateway', 'other-ca');
  // A URI SAN whose text contains ", URI:<allowlisted>, ": naive splitting would find the allowlisted URI.
  issue('comma-san', '/CN=evil', 'gateway-ca', ['subjectAltName=@alt', 'extendedKeyUsage=clientAuth', '[alt]', `URI.1 = x, URI:${GATEWAY_URI}, y`]);
  issue('two-cns', '/CN=intruder/CN=jitca-ssh-gateway', 'gateway-ca');
  issue('ambiguous', '/CN=jitca-ssh-gateway', 'gateway-ca', [`subjectAltName=URI:${BASTION_URI}`, 'extendedKeyUsage=clientAuth']);

  server = tls.createServer({ key: file('server.key'), cert: file('server.crt'), ca: file('gateway-ca.crt'), requestCert: true, rejectUnauthorized: false });
  server.on('secureConnection', (socket) => {
    const peerCertificate = socket.getPeerCertificate();
    nextPeer?.({ kind: 'certificate', peerCertificate, authorized: socket.authorized, subjectaltname: peerCertificate.subjectaltname });
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  idp = await startOidcProvider({
    audience: API,
    accounts: { alice: { groups: ['oncall-payments'] }, bob: { groups: ['sre-leads'] } },
    serviceClients: [GATEWAY_CLIENT_ID, 'reporting-bot'],
  });
  gateway = createGatewayAuthenticator(gatewayConfig());
  engineers = createOidcVerifier({ issuer: idp.issuer, audience: API, jwksUri: idp.jwksUri });
});

afterAll(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  await idp?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function gatewayConfig(overrides: Partial<GatewayAuthenticatorConfig> = {}, allowedClients = [GATEWAY_CLIENT_ID]): GatewayAuthenticatorConfig {
  return {
    certificates: rules,
    token: { issuer: idp.issuer, audience: GATEWAY, jwksUri: idp.jwksUri, allowedClients },
    engineerAudience: API,
    ...overrides,
  };
}

describe('gateway by mTLS client certificate', () => {
  test('an allowlisted subject CN maps to its service', async () => {
    await expect(resolveGatewayIdentity(await peerPresenting('gw-cn'), gateway)).resolves.toEqual({ service: 'ssh-gateway' });
  });

  test('an allowlisted SAN URI maps to its service whatever the CN', async () => {
    await expect(resolveGatewayIdentity(await peerPresenting('gw-uri'), gateway)).resolves.toEqual({ service: 'ssh-gateway' });
  });

  test('a certificate from the gateway CA naming someone else is not a gateway', async () => {
    await expectAuthnError(resolveGatewayIdentity(await peerPresenting('stranger'), gateway), ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED);
  });

  test('the right CN from another CA is refused when the TLS layer did not verify it', async () => {
    const peer = await peerPresenting('rogue');
    expect(peer.authorized).toBe(false);
    await expectAuthnError(resolveGatewayIdentity(peer, gateway), ErrorCodes.AUTHN_SIGNATURE);
  });

  test('no client certificate is ERR_AUTHN_MISSING', async () => {
    await expectAuthnError(resolveGatewayIdentity(await peerPresenting(undefined), gateway), ErrorCodes.AUTHN_MISSING);
  });

  test('a SAN whose text embeds ", URI:<allowlisted>, " does not match', async () => {
    const peer = await peerPresenting('comma-san');
    expect(peer.subjectaltname).toContain(GATEWAY_URI);
    await expectAuthnError(resolveGatewayIdentity(peer, gateway), ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED);
  });

  test('two CNs, one of them allowlisted, match nothing', async () => {
    await expectAuthnError(resolveGatewayIdentity(await peerPresenting('two-cns'), gateway), ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED);
  });

  test('a certificate matching two services is refused as ambiguous', async () => {
    const error = await expectAuthnError(resolveGatewayIdentity(await peerPresenting('ambiguous'), gateway), ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED);
    expect(error.details).toMatchObject({ reason: 'ambiguous' });
  });

  test('certificates are refused when only tokens are configured', async () => {
    const tokensOnly = createGatewayAuthenticator(gatewayConfig({ certificates: [] }));
    await expectAuthnError(resolveGatewayIdentity(await peerPresenting('gw-cn'), tokensOnly), ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED);
  });
});

describe('gateway by service token, kept apart from engineer tokens', () => {
  test('a client-credentials token for the gateway audience from an allowlisted client is the gateway', async () => {
    const token = await idp.serviceToken(GATEWAY_CLIENT_ID, { audience: GATEWAY });
    await expect(resolveGatewayIdentity({ kind: 'token', token }, gateway)).resolves.toEqual({ service: GATEWAY_CLIENT_ID });
  });

  test('an engineer token is not accepted as a gateway token', async () => {
    const token = await idp.tokenFor('alice');
    await expectAuthnError(resolveGatewayIdentity({ kind: 'token', token }, gateway), ErrorCodes.AUTHN_AUDIENCE, token);
  });

  test('a gateway token is not accepted as an engineer token', async () => {
    const token = await idp.serviceToken(GATEWAY_CLIENT_ID, { audience: GATEWAY });
    await expectAuthnError(engineers.verify(token), ErrorCodes.AUTHN_AUDIENCE, token);
  });

  test('an engineer who obtains a token for the gateway audience is still not the gateway', async () => {
    const token = await idp.tokenFor('alice', { audience: GATEWAY });
    const viaCli = await expectAuthnError(resolveGatewayIdentity({ kind: 'token', token }, gateway), ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED, token);
    expect(viaCli.details).toMatchObject({ reason: 'client' });
    // even if the CLI client were (wrongly) allowlisted, a token whose sub is a person is not a service
    const lax = createGatewayAuthenticator(gatewayConfig({}, [GATEWAY_CLIENT_ID, CLI_CLIENT_ID]));
    const asPerson = await expectAuthnError(resolveGatewayIdentity({ kind: 'token', token }, lax), ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED, token);
    expect(asPerson.details).toMatchObject({ reason: 'subject' });
  });

  test('another service client with a gateway-audience token is not the gateway', async () => {
    const token = await idp.serviceToken('reporting-bot', { audience: GATEWAY });
    await expectAuthnError(resolveGatewayIdentity({ kind: 'token', token }, gateway), ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED, token);
  });

  test('tokens are refused when only certificates are configured', async () => {
    const certificatesOnly = createGatewayAuthenticator({ certificates: rules });
    const token = await idp.serviceToken(GATEWAY_CLIENT_ID, { audience: GATEWAY });
    await expectAuthnError(resolveGatewayIdentity({ kind: 'token', token }, certificatesOnly), ErrorCodes.AUTHN_GATEWAY_NOT_ALLOWED, token);
  });

  test('start-up refuses a gateway audience shared with engineers, no method at all, and malformed rules', () => {
    const overlapping = gatewayConfig();
    overlapping.token = { ...overlapping.token!, audience: [GATEWAY, API] };
    expectAuthnErrorSync(() => createGatewayAuthenticator(overlapping), ErrorCodes.CONFIG_INVALID);
    expectAuthnErrorSync(() => createGatewayAuthenticator({}), ErrorCodes.CONFIG_INVALID);
    expectAuthnErrorSync(() => createGatewayAuthenticator(gatewayConfig({}, [])), ErrorCodes.CONFIG_INVALID);
    for (const bad of [
      { service: 'x', commonName: 'a', uri: 'spiffe://a' },
      { service: 'x' },
      { service: '', commonName: 'a' },
      { service: 'x', uri: 'spiffe://a, URI:spiffe://b' },
    ]) {
      expectAuthnErrorSync(() => createGatewayAuthenticator({ certificates: [bad as GatewayCertificateRule] }), ErrorCodes.CONFIG_INVALID);
    }
  });
});

describe('acting on behalf of an engineer', () => {
  test('gateway token plus the engineer\'s own token form the engineer identity marked as via the gateway', async () => {
    const service = await resolveGatewayIdentity({ kind: 'token', token: await idp.serviceToken(GATEWAY_CLIENT_ID, { audience: GATEWAY }) }, gateway);
    const engineer = await engineers.verify(await idp.tokenFor('bob'));
    expect(actOnBehalf(service, engineer)).toEqual({ subject: 'bob', groups: ['sre-leads'], via: 'gateway', actingFor: GATEWAY_CLIENT_ID });
  });

  test('the gateway cannot act for a gateway identity or a local CLI identity', () => {
    const viaGateway: Identity = { subject: 'bob', groups: ['sre-leads'], via: 'gateway', actingFor: 'ssh-gateway' };
    const local: Identity = { subject: 'root', groups: ['security'], via: 'local-cli' };
    for (const engineer of [viaGateway, local]) {
      expectAuthnErrorSync(() => actOnBehalf({ service: 'ssh-gateway' }, engineer), ErrorCodes.AUTHN_CLAIMS);
    }
    expectAuthnErrorSync(() => actOnBehalf({ service: '' }, { subject: 'bob', groups: [], via: 'oidc' }), ErrorCodes.AUTHN_CLAIMS);
  });
});
