/**
 * store.postgresUrl end to end through the configuration: `jitca init` and the running CA keep
 * requests and the audit chain in PostgreSQL instead of the SQLite file.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializeCa, openCaRuntime } from '../../src/ca-runtime.ts';
import { buildConfig } from '../../src/config.ts';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { startPostgres } from '../support/postgres.ts';
import type { PostgresCluster } from '../support/postgres.ts';
import { deniedEntry } from './store-fixtures.ts';

let cluster: PostgresCluster;
const dirs: string[] = [];

beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(() => {
  cluster?.stop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function dataDirWithConfig(store: Record<string, unknown>): { dataDir: string; configFile: string } {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitca-pg-ca-'));
  dirs.push(dataDir);
  fs.writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(testPolicy));
  const configFile = path.join(dataDir, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({ store }));
  return { dataDir, configFile };
}

async function auditTypes(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ type: string }>('select type from audit_log order by seq')).rows.map((r) => r.type);
  } finally {
    await client.end();
  }
}

describe('store.postgresUrl', () => {
  it('makes jitca init and the running CA use the PostgreSQL database, not the SQLite file', async () => {
    const url = cluster.createDatabase('jitca_runtime');
    const { dataDir, configFile } = dataDirWithConfig({ postgresUrl: url });
    const config = buildConfig({ configFile, dataDir });
    expect(config.store.postgresUrl).toBe(url);

    await initializeCa(config);
    // The SSH user CA, the Kubernetes client CA and the local session token key.
    expect(await auditTypes(url)).toEqual(['ca.created', 'ca.created', 'ca.created']);

    const runtime = await openCaRuntime(config);
    try {
      const record = await runtime.store.recordDecision(deniedEntry('req-runtime'));
      expect(record.seq).toBe(4);
      expect(await runtime.store.verifyAudit()).toEqual({ ok: true, records: 4 });
    } finally {
      await runtime.close();
    }
    expect(await auditTypes(url)).toEqual(['ca.created', 'ca.created', 'ca.created', 'x509.denied']);
    expect(fs.existsSync(config.store.sqlitePath)).toBe(false);

    // A second init finds every key and writes nothing more.
    expect((await initializeCa(config)).created).toEqual([]);
    expect(await auditTypes(url)).toHaveLength(4);

    // The auditor's commands read the configured database too, not an empty SQLite file.
    const jitca = (...args: string[]) => spawnSync(path.resolve('bin/jitca'), ['--config', configFile, '--data-dir', dataDir, ...args], { encoding: 'utf8' });
    const head = jitca('audit', 'head');
    expect(head.stdout).toMatch(/^4:[0-9a-f]{64}\n$/);
    const verified = jitca('audit', 'verify', '--anchor', head.stdout.trim());
    expect(verified.stdout).toBe('audit: 4 records, chain intact, 1 anchor(s) matched\n');
    expect(verified.status).toBe(0);
    expect(fs.existsSync(config.store.sqlitePath)).toBe(false);
  });

  it('rejects a URL that is not postgres:// without echoing it', () => {
    const secret = 'hunter2-s3cret';
    const { dataDir, configFile } = dataDirWithConfig({ postgresUrl: `mysql://jitca:${secret}@db/jitca` });
    let error: unknown;
    try {
      buildConfig({ configFile, dataDir });
    } catch (e) {
      error = e;
    }
    expect(isJitcaError(error) ? error.code : error).toBe(ErrorCodes.CONFIG_INVALID);
    expect(isJitcaError(error) ? `${error.message} ${JSON.stringify(error.details)}` : '').not.toContain(secret);
  });
});
