import { Type, type Static } from 'typebox';
import { AUTH_FAILURE_LIMIT_DEFAULTS } from './api/auth-failure-limit.ts';
import { DEFAULT_CONNECTION_LIMITS } from './api/connection-limits.ts';

/**
 * The configuration file, declared once (CONTRIBUTING.md, "Where config is read"): each setting's
 * type, its bounds and its default. The TypeScript type is derived from it and ajv validates with
 * it, filling in the defaults; config.ts adds only what depends on other values (paths under the
 * data directory, whether the token is embedded).
 */

const keyAlgorithm = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-3072', 'rsa-4096'] as const;
const caName = { pattern: '^[a-z0-9][a-z0-9-]{0,40}$' } as const;
const nonEmpty = { minLength: 1 } as const;
/** A section may be left out: ajv creates it empty, then fills its defaults. */
const section = { additionalProperties: false, default: {} } as const;

/** Shared by engineer and gateway token settings (src/authn/jwt-verifier-config.ts checks values and holds their defaults). */
const jwtProperties = {
  issuer: Type.String(nonEmpty),
  audience: Type.Union([Type.String(nonEmpty), Type.Array(Type.String(nonEmpty), { minItems: 1 })]),
  jwksUri: Type.Optional(Type.String(nonEmpty)),
  algorithms: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
  typ: Type.Optional(Type.String(nonEmpty)),
  acceptedTypHeaders: Type.Optional(Type.Array(Type.String(nonEmpty), { minItems: 1 })),
  clockSkewSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })),
  maxTokenLifetimeSeconds: Type.Optional(Type.Integer({ minimum: 60 })),
  maxTokenBytes: Type.Optional(Type.Integer({ minimum: 256, maximum: 65536 })),
  jwksCacheMaxAgeMs: Type.Optional(Type.Integer({ minimum: 1000 })),
  jwksCooldownMs: Type.Optional(Type.Integer({ minimum: 0 })),
  jwksTimeoutMs: Type.Optional(Type.Integer({ minimum: 100 })),
};

export const configFileSchema = Type.Object(
  {
    /** Resolved against the working directory; --data-dir overrides it. */
    dataDir: Type.String({ ...nonEmpty, default: 'data' }),
    hsm: Type.Object(
      {
        /** Unset: the embedded default, a SoftHSM2 token jitca creates under dataDir on first start. */
        modulePath: Type.Optional(Type.String(nonEmpty)),
        tokenLabel: Type.String({ ...nonEmpty, maxLength: 32, default: 'jitca' }),
        /** Where the user PIN comes from: a 0600 file, or an environment variable's name. */
        pinFile: Type.Optional(Type.String(nonEmpty)),
        pinEnv: Type.Optional(Type.String({ pattern: '^[A-Z_][A-Z0-9_]*$' })),
        sessions: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
        /**
         * Threads that run C_Sign, 1 to sessions. 1 suits SoftHSM2 (signing is CPU on this machine);
         * a network HSM, whose C_Sign waits on the network, wants more.
         */
        signingThreads: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
      },
      section,
    ),
    store: Type.Object(
      {
        /** Resolved against dataDir. */
        sqlitePath: Type.String({ ...nonEmpty, default: 'jitca.sqlite' }),
        /**
         * postgres://user[:password]@host[:port]/database: when set, the store is this PostgreSQL
         * database instead of the SQLite file (several replicas share one audit chain). May carry a
         * password, so it is never logged or put into error messages. Only the scheme is checked
         * here: ajv's message quotes the pattern, never the value.
         */
        postgresUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
        /**
         * With PostgreSQL, one replica (the holder of a lease in the database) runs the singleton
         * jobs (src/ha). client-go's timings; start-up checks lease > renew deadline > 1.2 × retry.
         */
        leaderLeaseMs: Type.Integer({ minimum: 100, default: 15_000 }),
        leaderRenewDeadlineMs: Type.Integer({ minimum: 50, default: 10_000 }),
        leaderRetryMs: Type.Integer({ minimum: 20, default: 2_000 }),
      },
      section,
    ),
    retention: Type.Object(
      {
        /** `jitca retention` removes (after exporting) the rows of requests this many days past their expiry. */
        daysAfterExpiry: Type.Integer({ minimum: 1, maximum: 36_500, default: 400 }),
        /** `jitca audit export --archive` and `audit truncate` take only audit records at least this many days old. */
        auditMinAgeDays: Type.Integer({ minimum: 1, maximum: 36_500, default: 400 }),
      },
      section,
    ),
    /** Resolved against the working directory; unset, policy.json in dataDir. */
    policyFile: Type.Optional(Type.String(nonEmpty)),
    ssh: Type.Object(
      {
        caName: Type.String({ ...caName, default: 'ssh-user-ca' }),
        keyAlgorithm: Type.Enum(keyAlgorithm, { default: 'ed25519' }),
        /** valid_after is backdated this much to absorb clock skew between CA and sshd. */
        backdateSeconds: Type.Integer({ minimum: 0, maximum: 60, default: 60 }),
      },
      section,
    ),
    server: Type.Object(
      {
        host: Type.String({ ...nonEmpty, default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8443 }),
        /** Certificate requests per identity per minute. */
        rateLimitPerMinute: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 120 }),
        /** Failed or credential-less API requests per client address per minute (src/api/auth-failure-limit.ts). */
        authFailuresPerMinute: Type.Integer({ minimum: 1, maximum: 1_000_000, default: AUTH_FAILURE_LIMIT_DEFAULTS.perMinute }),
        /** Loopback peers skip that limit: only when a proxy on the same host speaks for every caller. */
        authFailuresExemptLoopback: Type.Boolean({ default: AUTH_FAILURE_LIMIT_DEFAULTS.exemptLoopback }),
        /** pino level; "info" logs every request with its id. */
        logLevel: Type.Enum(['debug', 'info', 'warn', 'error'], { default: 'info' }),
        /**
         * Listen without TLS on an address other than loopback: only where TLS ends in front of jitca
         * (a service mesh sidecar, a TLS proxy on the same host). Off by default: serve refuses.
         */
        allowPlaintext: Type.Boolean({ default: false }),
        /** Headers and body of a request must arrive within this many ms (src/api/connection-limits.ts). */
        requestTimeoutMs: Type.Integer({ minimum: 1000, maximum: 300_000, default: DEFAULT_CONNECTION_LIMITS.requestTimeoutMs }),
        /** Open connections to the API in total, and from one client address. */
        maxConnections: Type.Integer({ minimum: 1, maximum: 1_000_000, default: DEFAULT_CONNECTION_LIMITS.maxConnections }),
        maxConnectionsPerAddress: Type.Integer({ minimum: 1, maximum: 1_000_000, default: DEFAULT_CONNECTION_LIMITS.maxConnectionsPerAddress }),
        /** TLS for the API; clientCaFile lets the SSH gateway authenticate with a client certificate. */
        tls: Type.Optional(
          Type.Object(
            { certFile: Type.String(nonEmpty), keyFile: Type.String(nonEmpty), clientCaFile: Type.Optional(Type.String(nonEmpty)) },
            { additionalProperties: false },
          ),
        ),
      },
      section,
    ),
    kubernetes: Type.Object(
      {
        /** The X.509 client CA for kubectl certificates, a separate key in the same token. */
        caName: Type.String({ ...caName, default: 'kube-client-ca' }),
        keyAlgorithm: Type.Enum(keyAlgorithm, { default: 'ecdsa-p256' }),
        /** Lifetime of the self-signed CA certificate (rotation replaces it well before). */
        caValidityDays: Type.Integer({ minimum: 30, maximum: 3650, default: 365 }),
        /** jitca's own signerName, which the controller approves and signs. */
        signerName: Type.String({ pattern: '^[a-z0-9.-]+/[a-z0-9.-]+$', default: 'jitca.dev/debug-client' }),
        /** Whether the controller also approves/denies kubernetes.io/kube-apiserver-client CSRs. */
        approveKubeApiserverClient: Type.Boolean({ default: true }),
        /** Name written into the scope extension of certificates the controller signs. */
        clusterName: Type.String({ ...nonEmpty, maxLength: 253, default: 'default' }),
        /**
         * Which of several `jitca controller` replicas watches CSRs (src/ha): "none", every replica
         * (the store's claim per CSR keeps each signed once); "kubernetes-lease", the holder of a
         * coordination.k8s.io Lease (leaseName in leaseNamespace; needs the Role in deploy/kubernetes-ha);
         * "postgres", the holder of the lease in store.postgresUrl. Timings: store.leader*.
         */
        leaderElection: Type.Enum(['none', 'kubernetes-lease', 'postgres'], { default: 'none' }),
        leaseName: Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$', default: 'jitca-csr-controller' }),
        leaseNamespace: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$', default: 'jitca' }),
      },
      section,
    ),
    /**
     * Publishing the trusted generations in the cluster `jitca controller` talks to, on every
     * keyring change (src/k8s/trust-publisher.ts). Off by default: it writes cluster objects.
     */
    kubernetesPublishing: Type.Object(
      {
        enabled: Type.Boolean({ default: false }),
        /** A ConfigMap (kube-client-ca.pem, ssh-user-ca.pub) in each; each needs a Role granting configmaps get/create/update. */
        configMapNamespaces: Type.Array(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' }), { maxItems: 100, default: [] }),
        configMapName: Type.String({ pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$', default: 'jitca-trust-bundle' }),
        /** One ClusterTrustBundle per kube-client generation, when the cluster serves the API (v1, else v1beta1). */
        clusterTrustBundles: Type.Boolean({ default: true }),
      },
      section,
    ),
    /**
     * What SSH hosts running trust-sync report (GET /v1/trust/bundle.json with X-Jitca-Host) and
     * how rotation readiness reads it (rotation/host-readiness.ts). Reports are unauthenticated
     * (SECURITY.md, "Host reports"), hence the caps.
     */
    /**
     * PEM files added to the Yubico attestation roots jitca ships (src/attestation/roots): another
     * vendor's roots, an organisation's own, or intermediates a device does not send. Paths are
     * taken as given.
     */
    attestation: Type.Object(
      {
        pivRoots: Type.Array(Type.String(nonEmpty), { default: [] }),
        pivIntermediates: Type.Array(Type.String(nonEmpty), { default: [] }),
        fidoRoots: Type.Array(Type.String(nonEmpty), { default: [] }),
        fidoIntermediates: Type.Array(Type.String(nonEmpty), { default: [] }),
      },
      section,
    ),
    hostReports: Type.Object(
      {
        /** Most distinct hosts recorded; hosts not seen within the window make room for new ones. */
        maxHosts: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
        /** Most report writes per minute, all hosts together; a report over it is not recorded. */
        writesPerMinute: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 600 }),
        /** A host reporting the same fingerprints again within this is not rewritten. */
        rewriteAfterSeconds: Type.Integer({ minimum: 0, maximum: 86_400, default: 300 }),
        /** Promotion of a next ssh-user generation waits until this share of the hosts seen reports it. */
        readyShare: Type.Number({ minimum: 0, maximum: 1, default: 1 }),
        /** The hosts that count: those seen within this many hours. */
        windowHours: Type.Integer({ minimum: 1, maximum: 24 * 90, default: 24 }),
      },
      section,
    ),
    /** The CA rotation schedule (rotation/rotation-plan.ts), for both CAs. */
    rotation: Type.Object(
      {
        /** How long a generation signs before the next one is promoted. */
        periodDays: Type.Integer({ minimum: 1, maximum: 3650, default: 90 }),
        /** How long `next` is published before it may be promoted (and the lead time of its generation). */
        overlapDays: Type.Integer({ minimum: 1, maximum: 365, default: 7 }),
        /** Whether `serve` runs the schedule itself (off when a CronJob runs `jitca rotate apply`). */
        inServe: Type.Boolean({ default: true }),
      },
      section,
    ),
    /**
     * Notifications of requests (src/notify): webhooks a singleton job delivers to from the
     * outbox the audit transaction writes. No webhooks: no outbox rows (nothing would send them).
     */
    notifications: Type.Object(
      {
        /** The approval console's address (serve's /console), linked from every message about a request. */
        consoleUrl: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 512 })),
        webhooks: Type.Array(
          Type.Object(
            {
              /** Names the sink in the outbox rows, logs and metrics: never the URL. */
              name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,40}$' }),
              /** slack: Block Kit incoming-webhook JSON; json: the event as JSON, signed with HMAC-SHA256. */
              format: Type.Enum(['slack', 'json']),
              /**
               * https, or http to a loopback address only (checked at load). No redirects are
               * followed. Exactly one of url and urlFile: a Slack incoming-webhook URL is itself a
               * credential (whoever has it posts to the channel), so it belongs in a 0600 file.
               */
              url: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048 })),
              urlFile: Type.Optional(Type.String(nonEmpty)),
              /** json: a 0600 file holding the HMAC secret (at least 32 bytes). Never logged. */
              secretFile: Type.Optional(Type.String(nonEmpty)),
              /** Only requests of these policy roles (a team's channel); absent: every role. */
              roles: Type.Optional(Type.Array(Type.String(nonEmpty), { minItems: 1, maxItems: 256 })),
              /** Only requests one of these groups may approve (the approvers' channel); absent: any. */
              approverGroups: Type.Optional(Type.Array(Type.String(nonEmpty), { minItems: 1, maxItems: 256 })),
              /** Which events it gets. */
              events: Type.Array(Type.Enum(['pending', 'approved', 'denied', 'expired', 'expiring', 'issued']), {
                minItems: 1,
                uniqueItems: true,
                default: ['pending', 'approved', 'denied', 'expired', 'expiring', 'issued'],
              }),
            },
            { additionalProperties: false },
          ),
          { maxItems: 16, default: [] },
        ),
        /**
         * A pending request this close to the end of its approval window, still undecided, is
         * announced once more (`expiring`, audited as request.expiring) so approvers act before it
         * lapses. 0: never.
         */
        expiringNoticeSeconds: Type.Integer({ minimum: 0, maximum: 86_400, default: 600 }),
        /** One delivery's whole time (connect, send, answer), and the most of an answer read. */
        timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5_000 }),
        maxResponseBytes: Type.Integer({ minimum: 256, maximum: 1_048_576, default: 65_536 }),
        /** Tries per notification before it is given up (`dead`, audited). */
        maxAttempts: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
        /** Wait before try n+1: base × 2^(n-1), at most the cap. */
        backoffBaseMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 5_000 }),
        backoffCapMs: Type.Integer({ minimum: 100, maximum: 86_400_000, default: 900_000 }),
        /** How often the delivery job looks for due rows. */
        pollIntervalMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 2_000 }),
        /** Sent rows are deleted this many days after they were sent. */
        sentRetentionDays: Type.Integer({ minimum: 1, maximum: 3650, default: 7 }),
      },
      section,
    ),
    /**
     * Local identities (`jitca users add`): people registered on the CA host log in by signing a
     * challenge with their SSH key (src/authn/local-login.ts). Beside oidc, not instead of it.
     */
    localIdentities: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        /** Lifetime of a session token, seconds. */
        sessionTtlSeconds: Type.Integer({ minimum: 60, maximum: 86_400, default: 900 }),
        /** The SSHSIG namespace a login signs in (`ssh-keygen -Y sign -n`): name this CA, e.g. "jitca-login@example.org". */
        namespace: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$', default: 'jitca-login@jitca' }),
        /** How long a login challenge may be answered, seconds. */
        challengeTtlSeconds: Type.Integer({ minimum: 10, maximum: 600, default: 120 }),
        /** Unanswered challenges held at once per user name, and per client address. */
        challengesPerName: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
        challengesPerAddress: Type.Integer({ minimum: 1, maximum: 10_000, default: 20 }),
      },
      section,
    ),
    /** Engineers' identity provider; without it only the local CLI issues. */
    oidc: Type.Optional(
      Type.Object(
        {
          ...jwtProperties,
          subjectClaim: Type.Optional(Type.String(nonEmpty)),
          groupsClaim: Type.Optional(Type.String(nonEmpty)),
          maxGroups: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    /**
     * The approval console at /console (src/api/console-routes.ts); absent: not served. Needs oidc:
     * the page signs in at that issuer and calls the API with the token it gets, as the CLI does.
     */
    console: Type.Optional(
      Type.Object(
        {
          /** The console's client at the issuer: public (no secret), authorization code with PKCE, redirect URI <origin>/console/callback. */
          clientId: Type.String(nonEmpty),
          /** The scope the page asks for; the access token must be one oidc accepts (its audience). */
          scope: Type.String({ ...nonEmpty, default: 'openid' }),
          /** An RFC 8707 resource indicator sent with the authorization and token requests, for issuers that set the audience from it. */
          resource: Type.Optional(Type.String(nonEmpty)),
        },
        { additionalProperties: false },
      ),
    ),
    /** The just-in-time SSH gateway's own identity (client certificate or token). */
    gateway: Type.Optional(
      Type.Object(
        {
          /** Each names commonName or uri, not both; src/authn/gateway-identity.ts refuses the rest. */
          certificates: Type.Optional(
            Type.Array(
              Type.Object(
                { service: Type.String(nonEmpty), commonName: Type.Optional(Type.String(nonEmpty)), uri: Type.Optional(Type.String(nonEmpty)) },
                { additionalProperties: false },
              ),
            ),
          ),
          token: Type.Optional(
            Type.Object(
              {
                ...jwtProperties,
                allowedClients: Type.Array(Type.String(nonEmpty), { minItems: 1 }),
                clientClaim: Type.Optional(Type.Enum(['client_id', 'azp', 'sub'])),
                requireSubjectIsClient: Type.Optional(Type.Boolean()),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** A configuration file once validated: every setting with a default is present. */
export type ConfigFile = Static<typeof configFileSchema>;
