import { readConfigJson } from './config-json-file.ts';
import path from 'node:path';
import { Ajv } from 'ajv';
import { ErrorCodes, JitcaError } from './errors.ts';
import { configFileSchema, type ConfigFile } from './config-schema.ts';

/**
 * The one validated configuration object, built once at start-up from an optional JSON file and
 * the command line (CONTRIBUTING.md, "Where config is read": nothing reads process.env deep in the
 * code). Secrets are never in here: the HSM PIN is named by a file path or an environment-variable
 * name and read at the edge. Its shape is the file's (config-schema.ts) with paths resolved.
 */
export type JitcaConfig = Omit<ConfigFile, 'hsm' | 'policyFile'> & {
  hsm: ConfigFile['hsm'] & {
    /** Embedded default: a SoftHSM2 token created under dataDir on first start. */
    embedded: boolean;
    modulePath: string;
  };
  policyFile: string;
};

const validateFile = new Ajv({ allErrors: false, strict: true, useDefaults: true }).compile<ConfigFile>(configFileSchema);

export const DEFAULT_SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** Builds the configuration: defaults, then the file, then explicit overrides (CLI flags). */
export function buildConfig(options: { configFile?: string; dataDir?: string; cwd?: string } = {}): JitcaConfig {
  const cwd = options.cwd ?? process.cwd();
  let parsed: unknown = {};
  if (options.configFile !== undefined) {
    parsed = readConfigJson(options.configFile, 'config');
  }
  // Validating also fills in the defaults, so a missing file is validated as an empty one.
  if (!validateFile(parsed)) {
    const first = validateFile.errors?.[0];
    throw new JitcaError(
      ErrorCodes.CONFIG_INVALID,
      `config ${options.configFile}: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`,
      { details: { path: first?.instancePath ?? '/' } },
    );
  }
  const file = parsed;
  if (file.console !== undefined && file.oidc === undefined) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `config ${options.configFile}: /console needs /oidc: the console signs in at that identity provider`, {
      details: { path: '/console' },
    });
  }
  if (file.hsm.signingThreads > file.hsm.sessions) {
    throw new JitcaError(
      ErrorCodes.CONFIG_INVALID,
      `config ${options.configFile}: /hsm/signingThreads (${file.hsm.signingThreads}) must not exceed /hsm/sessions (${file.hsm.sessions}): each signature holds a session`,
      { details: { path: '/hsm/signingThreads' } },
    );
  }
  const dataDir = path.resolve(cwd, options.dataDir ?? file.dataDir);
  // A token is "embedded" when the configuration names no module: jitca then owns a SoftHSM2
  // token under dataDir. Naming a module (a real HSM) means the token and PIN are provisioned.
  const embedded = file.hsm.modulePath === undefined;
  return {
    ...file,
    dataDir,
    hsm: {
      ...file.hsm,
      embedded,
      modulePath: file.hsm.modulePath ?? DEFAULT_SOFTHSM_MODULE,
      pinFile: file.hsm.pinFile ?? (embedded ? path.join(dataDir, 'hsm', 'user.pin') : undefined),
    },
    store: { ...file.store, sqlitePath: path.resolve(dataDir, file.store.sqlitePath) },
    policyFile: path.resolve(cwd, file.policyFile ?? path.join(dataDir, 'policy.json')),
  };
}
