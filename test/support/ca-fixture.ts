import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initializeCa, openCaRuntime, type CaRuntime } from '../../src/ca-runtime.ts';
import { buildConfig, type JitcaConfig } from '../../src/config.ts';
import type { Clock } from '../../src/clock.ts';
import type { KeyAlgorithmName } from '../../src/keys/signer.ts';

/** A policy small enough to read in a test: one role per behaviour the e2e tests exercise. */
export const testPolicy = {
  version: 1,
  extensionDomain: 'jitca.dev',
  revokerGroups: ['sre-leads'],
  roles: [
    {
      name: 'oncall-payments',
      groups: ['oncall-payments'],
      principals: ['oncall-payments', 'payments-readonly'],
      maxTtlSeconds: 1800,
      defaultTtlSeconds: 900,
      ttlOverMax: 'cap',
      scope: { clusters: ['prod'], namespaces: ['payments'] },
      commands: ['kubectl logs', 'kubectl exec'],
      extensions: ['permit-pty'],
      approval: { mode: 'auto' },
      allowGateway: true,
      kubernetes: { groups: ['jit:oncall:payments'], maxExpirationSeconds: 1800 },
    },
    {
      name: 'forced',
      groups: ['forced'],
      principals: ['oncall-payments'],
      maxTtlSeconds: 600,
      scope: { clusters: ['prod'], namespaces: ['payments'] },
      commands: ['echo forced-command-ran'],
      forceCommand: 'echo forced-command-ran',
      extensions: [],
      approval: { mode: 'auto' },
    },
    {
      name: 'remote-only',
      groups: ['remote-only'],
      principals: ['oncall-payments'],
      maxTtlSeconds: 600,
      scope: { clusters: ['prod'], namespaces: ['payments'] },
      sourceAddresses: ['10.20.0.0/16'],
      extensions: ['permit-pty'],
      approval: { mode: 'auto' },
    },
    {
      name: 'break-glass',
      groups: ['sre'],
      principals: ['root-debug'],
      maxTtlSeconds: 900,
      ttlOverMax: 'deny',
      scope: { clusters: ['prod'], namespaces: ['*'] },
      extensions: ['permit-pty'],
      approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 2 },
    },
  ],
};

export interface CaFixture {
  config: JitcaConfig;
  runtime: CaRuntime;
  dataDir: string;
  cleanup(): Promise<void>;
}

/** A CA on the embedded defaults (SoftHSM2 token + SQLite) in a fresh temp data dir. */
export async function createCaFixture(
  options: {
    keyAlgorithm?: KeyAlgorithmName;
    clock?: Clock;
    /** e.g. { postgresUrl } instead of the SQLite file */
    store?: Record<string, unknown>;
    /** instead of testPolicy */
    policy?: unknown;
    /** the config file's notifications section */
    notifications?: Record<string, unknown>;
  } = {},
): Promise<CaFixture> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-ca-'));
  const configFile = path.join(dataDir, 'config.json');
  writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(options.policy ?? testPolicy, null, 2));
  writeFileSync(configFile, JSON.stringify({ ssh: { keyAlgorithm: options.keyAlgorithm ?? 'ed25519' }, ...(options.store === undefined ? {} : { store: options.store }), ...(options.notifications === undefined ? {} : { notifications: options.notifications }) }));
  const config = buildConfig({ configFile, dataDir });
  await initializeCa(config);
  const runtime = await openCaRuntime(config, options.clock);
  return {
    config,
    runtime,
    dataDir,
    cleanup: async () => {
      await runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
