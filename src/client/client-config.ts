import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { readConfigJson } from '../config-json-file.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';

/** The engineer helper's configuration: where the CA is and how to get an OIDC token. */
export interface ClientConfig {
  server: string;
  /** PEM file of the CA that signed the jitca server's TLS certificate. */
  caFile?: string;
  oidc?: { issuer: string; clientId: string; audience: string; scope?: string };
  /** argv of a command printing a bearer token (run without a shell), instead of the device flow. */
  tokenCommand?: string[];
  tokenCache: string;
  /**
   * The token claims the server takes the user and groups from (its oidc.subjectClaim and
   * groupsClaim; default "sub" and "groups"): the kube credential cache is kept per identity.
   */
  subjectClaim?: string;
  groupsClaim?: string;
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['server'],
  properties: {
    server: { type: 'string', pattern: '^https?://' },
    caFile: { type: 'string', minLength: 1 },
    oidc: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer', 'clientId', 'audience'],
      properties: {
        issuer: { type: 'string', pattern: '^https?://' },
        clientId: { type: 'string', minLength: 1 },
        audience: { type: 'string', minLength: 1 },
        scope: { type: 'string', minLength: 1 },
      },
    },
    tokenCommand: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    tokenCache: { type: 'string', minLength: 1 },
    subjectClaim: { type: 'string', minLength: 1 },
    groupsClaim: { type: 'string', minLength: 1 },
  },
} as const;
const validate = new Ajv({ strict: true }).compile(schema);

export function defaultClientConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env['XDG_CONFIG_HOME'] ?? path.join(os.homedir(), '.config'), 'jitca', 'client.json');
}

function defaultTokenCache(env: NodeJS.ProcessEnv): string {
  return path.join(env['XDG_CACHE_HOME'] ?? path.join(os.homedir(), '.cache'), 'jitca', 'token.json');
}

/** Reads the helper's config once at start-up (file named by --client-config or the default path). */
export function loadClientConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const configPath = file ?? env['JITCA_CLIENT_CONFIG'] ?? defaultClientConfigPath(env);
  const parsed = readConfigJson(configPath, 'client config', ': write it (README, "Engineers") or name another with --client-config or JITCA_CLIENT_CONFIG');
  if (!validate(parsed)) {
    const first = validate.errors?.[0];
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `client config ${configPath}: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`);
  }
  const config = parsed as Omit<ClientConfig, 'tokenCache'> & { tokenCache?: string };
  // "https://host:8443/" is what people paste: joined with "/v1/..." it named no route.
  return { ...config, server: config.server.replace(/\/+$/, ''), tokenCache: config.tokenCache ?? defaultTokenCache(env) };
}
