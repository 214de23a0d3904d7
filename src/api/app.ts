import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { SecureContextOptions } from 'node:tls';
import type { CaRuntime } from '../ca-runtime.ts';
import type { AttestationVerifier } from '../enrollment/attestation-verifier.ts';
import { noAttestationVerifier } from '../enrollment/attestation-verifier.ts';
import { createChallengeRegistry } from '../enrollment/challenges.ts';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { AUTH_FAILURE_LIMIT_DEFAULTS, createAuthFailureLimiter, type AuthFailureLimitOptions } from './auth-failure-limit.ts';
import { authenticateGatewayHook, authenticateHook, rateLimitKey, type ApiAuthenticator, type IdentityHook } from './authenticate.ts';
import { applyConnectionLimits, clientErrorHandler, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './connection-limits.ts';
import { consoleRoutes, type ConsoleOptions } from './console-routes.ts';
import { errorHandler } from './error-mapping.ts';
import { gatewayRoutes } from './gateway-routes.ts';
import { registerHealthRoutes } from './health.ts';
import { keyRoutes } from './key-routes.ts';
import { localAuthRoutes } from './local-auth-routes.ts';
import type { LocalLoginContext } from '../authn/local-login.ts';
import { registerRequestLog } from './request-log.ts';
import { registerStrictJsonParser } from './json-body.ts';
import { registerLeadershipMetrics, type LeadershipStatus } from '../ha/leadership.ts';
import type { DeliveryCounters } from '../notify/outbox-delivery.ts';
import type { SshIssuanceContext } from '../issuance/issue-ssh-certificate.ts';
import type { X509IssuanceContext } from '../issuance/issue-x509-certificate.ts';
import { registerStoreCommitMetrics } from './store-commit-metrics.ts';
import { registerActiveCredentialMetrics } from './active-credential-metrics.ts';
import { registerPolicyMetrics } from '../issuance/policy-metrics.ts';
import { registerNotificationMetrics } from '../notify/notification-metrics.ts';
import { createMetrics, instrumentActiveCa, instrumentActiveSigner } from './metrics.ts';
import { requestListRoutes } from './request-list-routes.ts';
import { requestRoutes } from './request-routes.ts';
import { revocationRoutes } from './revocation-routes.ts';
import { errorReplySchema } from './schemas.ts';
import { sshRoutes } from './ssh-routes.ts';
import { x509Routes } from './x509-routes.ts';
import { registerTrustRoutes } from './trust.ts';

export interface AppOptions {
  authenticator: ApiAuthenticator;
  /** stream: where the JSON lines go (default stdout); the tests read them. */
  logger?: boolean | { level: string; stream?: NodeJS.WritableStream };
  /** Requests per identity per minute, counted together over every route that acts for a person. */
  rateLimitPerMinute?: number;
  /** Failed or credential-less requests per client address per minute (auth-failure-limit.ts). */
  authFailureLimit?: Partial<AuthFailureLimitOptions>;
  /** TLS for the listener; requestCert lets the gateway authenticate with a client certificate. */
  https?: SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean };
  /** Request deadline and connection caps; each defaults to DEFAULT_CONNECTION_LIMITS. */
  connectionLimits?: Partial<ConnectionLimits>;
  /** Whether this replica runs the singleton jobs (src/ha), exported in /metrics. */
  leadership?: () => LeadershipStatus;
  /** The notification sender's attempt counters (src/notify), exported in /metrics. */
  notificationCounters?: DeliveryCounters;
  /** Verifies PIV and FIDO evidence at enrollment; default: none verified (plain keys only). */
  attestationVerifier?: AttestationVerifier;
  /** The approval console at /console (console-routes.ts); absent: not served. */
  console?: ConsoleOptions;
  /** Local identities' login routes (POST /v1/auth/challenge and /v1/auth/session); absent: not served. */
  localLogin?: LocalLoginContext;
}

/** Every pending request expires before this: listOverduePending up to it lists them all, soonest first. */
const FAR_FUTURE = '9999-12-31T23:59:59.999Z';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The HTTP API factory: schema-first routes (OpenAPI at /openapi.json), one plugin per route group,
 * authentication before validation, per-identity rate limits, bounded bodies and timeouts, JSON
 * logs with a request id and without credentials, Prometheus metrics.
 */
export function buildApp(runtime: CaRuntime, options: AppOptions): FastifyInstance {
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connectionLimits };
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : {
            level: typeof options.logger === 'object' ? options.logger.level : 'info',
            redact: { paths: ['req.headers.authorization', 'req.headers["x-jitca-on-behalf-of"]', 'req.headers.cookie'], censor: '[redacted]' },
            ...(typeof options.logger === 'object' && options.logger.stream !== undefined ? { stream: options.logger.stream } : {}),
          },
    // request-log.ts writes one line per request with who, role, serial and code instead.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (request) => {
      const offered = request.headers['x-request-id'];
      return typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : randomUUID();
    },
    bodyLimit: 64 * 1024,
    connectionTimeout: 30_000,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: 10_000,
    clientErrorHandler,
    // Unknown fields are refused, not stripped; types are not coerced: "1" is not 1.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    // A TLS handshake gets the same deadline as a request (Node's default is 120 s).
    ...(options.https === undefined ? {} : { https: { ...options.https, handshakeTimeout: limits.requestTimeoutMs } }),
  }) as unknown as FastifyInstance;
  applyConnectionLimits(app.server, limits);

  const metrics = createMetrics(
    () => runtime.store.countRequests('pending'),
    () => runtime.store.threadHeap(),
    async () => {
      // Pending requests all wait the same window, so the first to expire is the oldest.
      const [oldest] = await runtime.store.listOverduePending(FAR_FUTURE, 1);
      return oldest === undefined ? 0 : Math.max(0, (runtime.clock.now() - Date.parse(oldest.createdAt)) / 1000);
    },
  );
  if (options.leadership !== undefined) registerLeadershipMetrics(metrics.registry, options.leadership);
  registerPolicyMetrics(metrics.registry, runtime.policyInForce);
  registerStoreCommitMetrics(metrics.registry, () => runtime.store.stats());
  registerActiveCredentialMetrics(metrics.registry, { count: (nowIso) => runtime.store.countActiveCertificates(nowIso), now: () => runtime.clock.now() });
  registerNotificationMetrics(metrics.registry, {
    backlog: () => runtime.store.notificationBacklog(),
    counters: options.notificationCounters,
    now: () => runtime.clock.now(),
  });
  const activeSigner = instrumentActiveSigner(runtime.sshIssuance.activeSigner, metrics.hsmSignSeconds);
  // Each route asks for its context once per request: the policy in force when the request came
  // decides all of it, and a reload (serve, SIGHUP or a file change) applies from the next request.
  const issuance = (): SshIssuanceContext => ({ ...runtime.sshIssuance, activeSigner });
  const failures = createAuthFailureLimiter({ ...AUTH_FAILURE_LIMIT_DEFAULTS, ...options.authFailureLimit });
  const authenticated = authenticateHook(options.authenticator, failures);

  app.setErrorHandler(errorHandler);
  registerRequestLog(app);
  // fastify's default 404 body has no code; an unknown path or method is refused like everything
  // else. The path is not echoed: it is the caller's text.
  app.setNotFoundHandler(async (request) => {
    throw new JitcaError(ErrorCodes.ROUTE_NOT_FOUND, `no route for ${request.method} at this path; the API's routes are listed at /openapi.json`);
  });
  registerStrictJsonParser(app);
  app.addSchema(errorReplySchema);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // Every refusal by policy, on any route, counts once by its rule.
  app.addHook('onError', async (_request, _reply, error) => {
    if (isJitcaError(error, ErrorCodes.POLICY_DENIED) || isJitcaError(error, ErrorCodes.APPROVAL_REFUSED)) {
      metrics.denied.inc({ rule: String(error.details?.['rule'] ?? 'unknown') });
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.requestSeconds.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.register(swagger, { openapi: { info: { title: 'jitca', version: '1' } } });
  app.register(rateLimit, {
    global: false,
    max: options.rateLimitPerMinute ?? 120,
    timeWindow: 60_000,
    keyGenerator: (request: FastifyRequest) => rateLimitKey(request),
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      code: ErrorCodes.RATE_LIMITED,
      message: `rate limit of ${context.max} requests per ${context.after} exceeded`,
    }),
  });
  const x509Issuance = (): X509IssuanceContext => ({
    policy: runtime.policyInForce.current().policy,
    store: runtime.store,
    activeCa: instrumentActiveCa(() => runtime.kubeCa, metrics.hsmSignSeconds),
    clock: runtime.sshIssuance.clock,
    signerName: runtime.config.kubernetes.signerName,
    backdateSeconds: runtime.config.ssh.backdateSeconds,
  });
  app.register(async (personal) => {
    // One budget per person across every route that acts for one. A limit set in each route's
    // config gets a counter of its own (@fastify/rate-limit gives every such route a child store),
    // so a person had the limit once per route; rateLimit() without options shares the plugin's
    // one store. Counted right after authentication, before the body is judged, so a request the
    // schema or policy refuses (and a denial is audited) spends the budget as an accepted one does.
    const countAgainstPerson = personal.rateLimit();
    const preValidation: IdentityHook = async (request, reply) => {
      await authenticated(request, reply);
      await countAgainstPerson.call(personal, request, reply);
    };
    personal.register(sshRoutes({ issuance, metrics, preValidation }));
    personal.register(requestRoutes({ issuance, metrics, preValidation }));
    personal.register(requestListRoutes({ issuance, preValidation }));
    personal.register(revocationRoutes({ issuance, metrics, preValidation, onRevoked: () => runtime.sshKrl.invalidate() }));
    personal.register(x509Routes({ issuance: x509Issuance, metrics, preValidation }));
    personal.register(
      keyRoutes({
        enrollment: {
          store: runtime.store,
          challenges: createChallengeRegistry(runtime.store, runtime.sshIssuance.clock),
          verifier: options.attestationVerifier ?? noAttestationVerifier,
        },
        management: () => ({ store: runtime.store, policy: runtime.policyInForce.current().policy }),
        preValidation,
      }),
    );
  });
  if (options.console !== undefined) app.register(consoleRoutes(options.console));
  if (options.localLogin !== undefined) app.register(localAuthRoutes({ login: options.localLogin, failures }));
  // The gateway speaks for many people: the per-person budget above does not apply to it as a caller.
  app.register(gatewayRoutes({ issuance: x509Issuance, metrics, preValidation: authenticateGatewayHook(options.authenticator, failures) }));
  app.register(registerHealthRoutes(runtime));
  app.register(registerTrustRoutes(runtime));
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
