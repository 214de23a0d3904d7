import type { FastifyInstance } from 'fastify';
import Database from 'better-sqlite3';
import { buildApp, type AppOptions } from '../../src/api/app.ts';
import { localLoginFor } from '../../src/api/local-login-from-runtime.ts';
import { createApiAuthenticator } from '../../src/api/request-authenticator.ts';
import { createGatewayAuthenticator } from '../../src/authn/gateway-identity.ts';
import { createOidcVerifier } from '../../src/authn/oidc-verifier.ts';
import { openCaRuntime, type CaRuntime } from '../../src/ca-runtime.ts';
import type { Clock } from '../../src/clock.ts';
import { createCaFixture, type CaFixture } from './ca-fixture.ts';
import { GATEWAY_CLIENT_ID, startOidcProvider, type OidcTestProvider } from './oidc-provider.ts';

export const API_AUDIENCE = 'urn:jitca:api';
export const GATEWAY_AUDIENCE = 'urn:jitca:gateway';

/** Who is who in the API tests (groups as the identity provider asserts them). */
export const accounts = {
  alice: { groups: ['oncall-payments'] },
  dave: { groups: ['sre'] },
  bob: { groups: ['sre-leads'] },
  carol: { groups: ['sre-leads'] },
  mallory: { groups: ['interns'] },
};

export interface ApiFixture {
  ca: CaFixture;
  oidc: OidcTestProvider;
  app: FastifyInstance;
  tokens: Record<keyof typeof accounts, string>;
  /** The SSH gateway's own client-credentials token (audience GATEWAY_AUDIENCE). */
  gatewayToken: string;
  /** Rows per table, read through a separate connection: "nothing was written" made checkable. */
  rowCounts(): Record<'requests' | 'certificates' | 'audit_log' | 'approvals', number>;
  /**
   * A second API on a runtime of its own opened on the same config: the same store (SQLite file
   * or PostgreSQL database) and token through its own connections, as a replica behind a load
   * balancer without session affinity. Its close() leaves the fixture's to close().
   */
  replica(): Promise<{ app: FastifyInstance; close(): Promise<void> }>;
  close(): Promise<void>;
}

export interface ApiFixtureOptions {
  rateLimitPerMinute?: number;
  /** Failed authentications per client address per minute, and whether loopback is exempt. */
  authFailureLimit?: { perMinute?: number; exemptLoopback?: boolean };
  issuanceClock?: Clock;
  /** store config, e.g. { postgresUrl }; rowCounts() reads SQLite only */
  store?: Record<string, unknown>;
  /** instead of testPolicy */
  policy?: unknown;
  connectionLimits?: AppOptions['connectionLimits'];
  /** The API's JSON log lines, at debug, go here (default: no logging). */
  logStream?: NodeJS.WritableStream;
  attestationVerifier?: AppOptions['attestationVerifier'];
  /** Serve the approval console with this client of the test issuer (the issuer is the fixture's own). */
  console?: { clientId: string; scope: string; resource?: string };
  notificationCounters?: AppOptions['notificationCounters'];
  /** the config file's notifications section (webhooks: outbox rows for what the API commits) */
  notifications?: Record<string, unknown>;
}

/** A CA on embedded defaults + a real OpenID provider + the API, all in-process on loopback. */
export async function createApiFixture(options: ApiFixtureOptions = {}): Promise<ApiFixture> {
  const ca = await createCaFixture({
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.notifications === undefined ? {} : { notifications: options.notifications }),
  });
  const oidc = await startOidcProvider({ accounts, audience: API_AUDIENCE });
  const verifier = createOidcVerifier({ issuer: oidc.issuer, audience: API_AUDIENCE, jwksUri: oidc.jwksUri }, { foreignAudiences: [GATEWAY_AUDIENCE] });
  const runtime =
    options.issuanceClock === undefined
      ? ca.runtime
      : { ...ca.runtime, sshIssuance: { ...ca.runtime.sshIssuance, clock: options.issuanceClock } };
  const app = appOn(runtime, oidc, verifier, options);
  await app.ready();
  const entries = await Promise.all(Object.keys(accounts).map(async (name) => [name, await oidc.tokenFor(name)] as const));
  const gatewayToken = await oidc.serviceToken(GATEWAY_CLIENT_ID, { audience: GATEWAY_AUDIENCE });
  return {
    ca,
    oidc,
    app,
    gatewayToken,
    tokens: Object.fromEntries(entries) as Record<keyof typeof accounts, string>,
    rowCounts() {
      const db = new Database(ca.config.store.sqlitePath, { readonly: true });
      try {
        const count = (table: string): number => (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
        return { requests: count('requests'), certificates: count('certificates'), audit_log: count('audit_log'), approvals: count('approvals') };
      } finally {
        db.close();
      }
    },
    async replica() {
      const opened = await openCaRuntime(ca.config);
      const second = options.issuanceClock === undefined ? opened : { ...opened, sshIssuance: { ...opened.sshIssuance, clock: options.issuanceClock } };
      const replicaApp = appOn(second, oidc, verifier, options);
      await replicaApp.ready();
      return {
        app: replicaApp,
        async close() {
          await replicaApp.close();
          await opened.close();
        },
      };
    },
    async close() {
      await app.close();
      await oidc.close();
      await ca.cleanup();
    },
  };
}

/** The API as the fixture builds it, on `runtime`: one replica. */
function appOn(runtime: CaRuntime, oidc: OidcTestProvider, verifier: ReturnType<typeof createOidcVerifier>, options: ApiFixtureOptions): FastifyInstance {
  // Local identities as serve has them (on by default): login routes and session tokens beside OIDC.
  const local = localLoginFor(runtime);
  return buildApp(runtime, {
    authenticator: createApiAuthenticator(
      verifier,
      createGatewayAuthenticator({
        token: { issuer: oidc.issuer, audience: GATEWAY_AUDIENCE, jwksUri: oidc.jwksUri, allowedClients: [GATEWAY_CLIENT_ID] },
        engineerAudience: API_AUDIENCE,
      }),
      local?.verifier,
    ),
    ...(local === undefined ? {} : { localLogin: local.login }),
    logger: options.logStream === undefined ? false : { level: 'debug', stream: options.logStream },
    rateLimitPerMinute: options.rateLimitPerMinute,
    ...(options.authFailureLimit === undefined ? {} : { authFailureLimit: options.authFailureLimit }),
    connectionLimits: options.connectionLimits,
    ...(options.attestationVerifier === undefined ? {} : { attestationVerifier: options.attestationVerifier }),
    ...(options.console === undefined ? {} : { console: { issuer: oidc.issuer, ...options.console } }),
    ...(options.notificationCounters === undefined ? {} : { notificationCounters: options.notificationCounters }),
  });
}
