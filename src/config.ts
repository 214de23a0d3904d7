import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { ErrorCodes, JitcaError } from './errors.ts';
import type { KeyAlgorithmName } from '../hsm/signer.ts';
import type { GatewayCertificateRule, GatewayTokenConfig } from './authn/gateway-identity.ts';
import type { OidcConfig } from './authn/oidc-verifier.ts';
import { AUTH_FAILURE_LIMIT_DEFAULTS } from './api/auth-failure-limit.ts';

/**
 * The one validated configuration object, built once at start-up from an optional JSON file and
 * the command line (STYLE.md: nothing reads process.env deep in the code). Secrets are never in
 * here: the HSM PIN is named by a file path or an environment-variable name and read at the edge.
 */
export interface JitcaConfig {
  dataDir: string;
  hsm: {
    /** Embedded default: a SoftHSM2 token created under dataDir on first start. */
    embedded: boolean;
    modulePath: string;
    tokenLabel: string;
    /** Where the user PIN comes from: a 0600 file, or an environment variable's name. */
    pinFile?: string;
    pinEnv?: string;
    sessions: number;
  };
  store: {
    sqlitePath: string;
    /**
     * postgres://user[:password]@host[:port]/database: when set, the store is this PostgreSQL
     * database instead of the SQLite file (several replicas share one audit chain). May carry a
     * password, so it is never logged or put into error messages.
     */
    postgresUrl?: string;
  };
  policyFile: string;
  ssh: {
    caName: string;
    keyAlgorithm: KeyAlgorithmName;
    /** valid_after is backdated this much to absorb clock skew between CA and sshd (max 60). */
    backdateSeconds: number;
  };
  server: {
    host: string;
    port: number;
    /** Certificate requests per identity per minute. */
    rateLimitPerMinute: number;
    /** Failed or credential-less API requests per client address per minute (src/api/auth-failure-limit.ts). */
    authFailuresPerMinute: number;
    /** Loopback peers skip that limit: only when a proxy on the same host speaks for every caller. */
    authFailuresExemptLoopback: boolean;
    /** pino level; "info" logs every request with its id. */
    logLevel: 'debug' | 'info' | 'warn' | 'error';
    /** TLS for the API; clientCaFile lets the SSH gateway authenticate with a client certificate. */
    tls?: { certFile: string; keyFile: string; clientCaFile?: string };
    /**
     * Listen without TLS on an address other than loopback: only where TLS ends in front of jitca
     * (a service mesh sidecar, a TLS proxy on the same host). Off by default: serve refuses.
     */
    allowPlaintext: boolean;
  };
  kubernetes: {
    /** The X.509 client CA for kubectl certificates, a separate key in the same token. */
    caName: string;
    keyAlgorithm: KeyAlgorithmName;
    /** Lifetime of the self-signed CA certificate (rotation replaces it well before). */
    caValidityDays: number;
    /** jitca's own signerName, which the controller approves and signs. */
    signerName: string;
    /** Whether the controller also approves/denies kubernetes.io/kube-apiserver-client CSRs. */
    approveKubeApiserverClient: boolean;
    /** Name written into the scope extension of certificates the controller signs. */
    clusterName: string;
  };
  /** Engineers' identity provider; without it only the local CLI issues. */
  oidc?: OidcConfig;
  /** The just-in-time SSH gateway's own identity (client certificate or token). */
  gateway?: { certificates?: GatewayCertificateRule[]; token?: Omit<GatewayTokenConfig, 'jwksUri'> & { jwksUri?: string } };
}

/** Shared by engineer and gateway token settings (src/authn/jwt-verifier-config.ts checks values). */
const jwtProperties = {
  issuer: { type: 'string', minLength: 1 },
  audience: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }] },
  jwksUri: { type: 'string', minLength: 1 },
  algorithms: { type: 'array', minItems: 1, items: { type: 'string' } },
  typ: { type: 'string', minLength: 1 },
  acceptedTypHeaders: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
  clockSkewSeconds: { type: 'integer', minimum: 0, maximum: 300 },
  maxTokenLifetimeSeconds: { type: 'integer', minimum: 60 },
  maxTokenBytes: { type: 'integer', minimum: 256, maximum: 65536 },
  jwksCacheMaxAgeMs: { type: 'integer', minimum: 1000 },
  jwksCooldownMs: { type: 'integer', minimum: 0 },
  jwksTimeoutMs: { type: 'integer', minimum: 100 },
} as const;

const fileSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dataDir: { type: 'string', minLength: 1 },
    hsm: {
      type: 'object',
      additionalProperties: false,
      properties: {
        modulePath: { type: 'string', minLength: 1 },
        tokenLabel: { type: 'string', minLength: 1, maxLength: 32 },
        pinFile: { type: 'string', minLength: 1 },
        pinEnv: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' },
        sessions: { type: 'integer', minimum: 1, maximum: 64 },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      properties: {
        sqlitePath: { type: 'string', minLength: 1 },
        // Only the scheme is checked here: ajv's message quotes the pattern, never the value.
        postgresUrl: { type: 'string', pattern: '^postgres(ql)?://' },
      },
    },
    policyFile: { type: 'string', minLength: 1 },
    ssh: {
      type: 'object',
      additionalProperties: false,
      properties: {
        caName: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,40}$' },
        keyAlgorithm: { enum: ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-3072', 'rsa-4096'] },
        backdateSeconds: { type: 'integer', minimum: 0, maximum: 60 },
      },
    },
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        rateLimitPerMinute: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        authFailuresPerMinute: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        authFailuresExemptLoopback: { type: 'boolean' },
        logLevel: { enum: ['debug', 'info', 'warn', 'error'] },
        allowPlaintext: { type: 'boolean' },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['certFile', 'keyFile'],
          properties: {
            certFile: { type: 'string', minLength: 1 },
            keyFile: { type: 'string', minLength: 1 },
            clientCaFile: { type: 'string', minLength: 1 },
          },
        },
      },
    },
    kubernetes: {
      type: 'object',
      additionalProperties: false,
      properties: {
        caName: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,40}$' },
        keyAlgorithm: { enum: ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-3072', 'rsa-4096'] },
        caValidityDays: { type: 'integer', minimum: 30, maximum: 3650 },
        signerName: { type: 'string', pattern: '^[a-z0-9.-]+/[a-z0-9.-]+$' },
        approveKubeApiserverClient: { type: 'boolean' },
        clusterName: { type: 'string', minLength: 1, maxLength: 253 },
      },
    },
    oidc: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer', 'audience'],
      properties: {
        ...jwtProperties,
        subjectClaim: { type: 'string', minLength: 1 },
        groupsClaim: { type: 'string', minLength: 1 },
        maxGroups: { type: 'integer', minimum: 1, maximum: 10_000 },
      },
    },
    gateway: {
      type: 'object',
      additionalProperties: false,
      properties: {
        certificates: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['service'],
            properties: { service: { type: 'string', minLength: 1 }, commonName: { type: 'string', minLength: 1 }, uri: { type: 'string', minLength: 1 } },
          },
        },
        token: {
          type: 'object',
          additionalProperties: false,
          required: ['issuer', 'audience', 'allowedClients'],
          properties: {
            ...jwtProperties,
            allowedClients: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
            clientClaim: { enum: ['client_id', 'azp', 'sub'] },
            requireSubjectIsClient: { type: 'boolean' },
          },
        },
      },
    },
  },
} as const;

export type ConfigFile = {
  dataDir?: string;
  hsm?: Partial<Omit<JitcaConfig['hsm'], 'embedded'>>;
  store?: Partial<JitcaConfig['store']>;
  policyFile?: string;
  ssh?: Partial<JitcaConfig['ssh']>;
  server?: Partial<JitcaConfig['server']>;
  kubernetes?: Partial<JitcaConfig['kubernetes']>;
  oidc?: JitcaConfig['oidc'];
  gateway?: JitcaConfig['gateway'];
};

const validateFile = new Ajv({ allErrors: false, strict: true }).compile(fileSchema);

export const DEFAULT_SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** Builds the configuration: defaults, then the file, then explicit overrides (CLI flags). */
export function buildConfig(options: { configFile?: string; dataDir?: string; cwd?: string } = {}): JitcaConfig {
  const cwd = options.cwd ?? process.cwd();
  let file: ConfigFile = {};
  if (options.configFile !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(options.configFile, 'utf8'));
    } catch (error) {
      throw new JitcaError(ErrorCodes.CONFIG_INVALID, `config ${options.configFile} is not readable JSON`, { cause: error });
    }
    if (!validateFile(parsed)) {
      const first = validateFile.errors?.[0];
      throw new JitcaError(
        ErrorCodes.CONFIG_INVALID,
        `config ${options.configFile}: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`,
        { details: { path: first?.instancePath ?? '/' } },
      );
    }
    file = parsed as ConfigFile;
  }
  const dataDir = path.resolve(cwd, options.dataDir ?? file.dataDir ?? 'data');
  // A token is "embedded" when the configuration names no module: jitca then owns a SoftHSM2
  // token under dataDir. Naming a module (a real HSM) means the token and PIN are provisioned.
  const embedded = file.hsm?.modulePath === undefined;
  return {
    dataDir,
    hsm: {
      embedded,
      modulePath: file.hsm?.modulePath ?? DEFAULT_SOFTHSM_MODULE,
      tokenLabel: file.hsm?.tokenLabel ?? 'jitca',
      pinFile: file.hsm?.pinFile ?? (embedded ? path.join(dataDir, 'hsm', 'user.pin') : undefined),
      pinEnv: file.hsm?.pinEnv,
      sessions: file.hsm?.sessions ?? 4,
    },
    store: {
      sqlitePath: path.resolve(dataDir, file.store?.sqlitePath ?? 'jitca.sqlite'),
      ...(file.store?.postgresUrl === undefined ? {} : { postgresUrl: file.store.postgresUrl }),
    },
    policyFile: path.resolve(cwd, file.policyFile ?? path.join(dataDir, 'policy.json')),
    ssh: {
      caName: file.ssh?.caName ?? 'ssh-user-ca',
      keyAlgorithm: file.ssh?.keyAlgorithm ?? 'ed25519',
      backdateSeconds: file.ssh?.backdateSeconds ?? 60,
    },
    server: {
      host: file.server?.host ?? '127.0.0.1',
      port: file.server?.port ?? 8443,
      rateLimitPerMinute: file.server?.rateLimitPerMinute ?? 120,
      authFailuresPerMinute: file.server?.authFailuresPerMinute ?? AUTH_FAILURE_LIMIT_DEFAULTS.perMinute,
      authFailuresExemptLoopback: file.server?.authFailuresExemptLoopback ?? AUTH_FAILURE_LIMIT_DEFAULTS.exemptLoopback,
      logLevel: file.server?.logLevel ?? 'info',
      tls: file.server?.tls,
      allowPlaintext: file.server?.allowPlaintext ?? false,
    },
    kubernetes: {
      caName: file.kubernetes?.caName ?? 'kube-client-ca',
      keyAlgorithm: file.kubernetes?.keyAlgorithm ?? 'ecdsa-p256',
      caValidityDays: file.kubernetes?.caValidityDays ?? 365,
      signerName: file.kubernetes?.signerName ?? 'jitca.dev/debug-client',
      approveKubeApiserverClient: file.kubernetes?.approveKubeApiserverClient ?? true,
      clusterName: file.kubernetes?.clusterName ?? 'default',
    },
    oidc: file.oidc,
    gateway: file.gateway,
  };
}
