/**
 * Policy reload in a real `jitca serve` process, its policy file laid out as a Kubernetes ConfigMap
 * mounts one (policy.json -> ..data/policy.json, ..data -> a versioned directory): SIGHUP, the
 * ConfigMap's atomic `..data` swap and an editor's rename save each put the new file in force for
 * the next request, audited as policy.loaded; a broken file keeps the policy in force deciding,
 * audited as policy.refused and counted in /metrics, its content in neither.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_AUDIENCE } from '../support/api-fixture.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { JITCA_BIN } from '../support/jitca-cli.ts';
import { startOidcProvider, type OidcTestProvider } from '../support/oidc-provider.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';
import { freePort } from '../support/sshd.ts';

const SECRET_LOOKING = 'do-not-log-this-text';

let dataDir: string;
let mount: string;
let oidc: OidcTestProvider;
let key: TempSshKey;
let serve: ChildProcess | undefined;
let serveOutput = '';
let port: number;
let aliceToken: string;

/** The starting policy, or one where alice's groups no longer open her role. */
function policyText(aliceAllowed: boolean, maxTtlSeconds = 1800): string {
  const roles = testPolicy.roles.map((role) =>
    role.name === 'oncall-payments' ? { ...role, groups: aliceAllowed ? role.groups : ['payments-leads'], maxTtlSeconds } : role,
  );
  return JSON.stringify({ ...testPolicy, roles }, null, 2);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What the kubelet's atomic writer does on a ConfigMap update: a new directory, then `..data` renamed onto it. */
function swapConfigMap(version: string, text: string): void {
  fs.mkdirSync(path.join(mount, version));
  fs.writeFileSync(path.join(mount, version, 'policy.json'), text);
  fs.symlinkSync(version, path.join(mount, '..data_tmp'));
  fs.renameSync(path.join(mount, '..data_tmp'), path.join(mount, '..data'));
}

/** An editor's save: a whole new file renamed over the old name. */
function saveByRename(text: string): void {
  fs.writeFileSync(path.join(mount, '.policy.json.swp'), text);
  fs.renameSync(path.join(mount, '.policy.json.swp'), path.join(mount, 'policy.json'));
}

async function metric(name: string): Promise<number | undefined> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((response) => response.text());
  const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
  return value === undefined ? undefined : Number(value);
}

/** Bounded wait until the policy in force changes (its load time, which moves only once it is in force). */
async function nextPolicyInForce(loadedBefore: number | undefined): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await metric('jitca_policy_loaded_time_seconds')) !== loadedBefore) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the policy in force did not change: ${serveOutput}`);
}

function audit(type: string): Array<Record<string, unknown>> {
  const db = new Database(path.join(dataDir, 'jitca.sqlite'), { readonly: true });
  try {
    return (db.prepare('select data from audit_log where type = ? order by seq').all(type) as Array<{ data: string }>).map((row) => JSON.parse(row.data) as Record<string, unknown>);
  } finally {
    db.close();
  }
}

async function askAsAlice(): Promise<{ status: number; code?: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/ssh/certificates`, {
    method: 'POST',
    headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ publicKey: key.publicKey, role: 'oncall-payments', ttl: '5m', reason: 'policy reload test' }),
  });
  const body = (await response.json()) as { code?: string };
  return { status: response.status, ...(body.code === undefined ? {} : { code: body.code }) };
}

beforeAll(async () => {
  oidc = await startOidcProvider({ accounts: { alice: { groups: ['oncall-payments'] } }, audience: API_AUDIENCE });
  aliceToken = await oidc.tokenFor('alice');
  key = createTempSshKey('jitca-policy-reload-');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitca-policy-reload-'));
  mount = path.join(dataDir, 'policy-mount');
  fs.mkdirSync(mount);
  fs.mkdirSync(path.join(mount, '..v1'));
  fs.writeFileSync(path.join(mount, '..v1', 'policy.json'), policyText(true));
  fs.symlinkSync('..v1', path.join(mount, '..data'));
  fs.symlinkSync('..data/policy.json', path.join(mount, 'policy.json'));
  const configFile = path.join(dataDir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      policyFile: path.join(mount, 'policy.json'),
      oidc: { issuer: oidc.issuer, audience: API_AUDIENCE, jwksUri: oidc.jwksUri },
      server: { logLevel: 'info' },
    }),
  );
  port = await freePort();
  const child = spawn(JITCA_BIN, ['--config', configFile, '--data-dir', dataDir, 'serve', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  serve = child;
  child.stdout?.on('data', (chunk: Buffer) => (serveOutput += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (serveOutput += chunk.toString()));
  for (let attempt = 0; attempt < 300; attempt++) {
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((response) => response.ok, () => false)) return;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`serve did not become ready: ${serveOutput}`);
}, 60_000);

afterAll(async () => {
  if (serve !== undefined && serve.exitCode === null) {
    const exited = new Promise((resolve) => serve!.once('exit', resolve));
    serve.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (serve.exitCode === null) serve.kill('SIGKILL');
  }
  await oidc?.close();
  key?.cleanup();
  if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('serve reloads its policy without a restart', () => {
  it('started under the file it audited, reason start', async () => {
    expect(audit('policy.loaded')).toEqual([
      { sha256: sha256(policyText(true)), file: path.join(mount, 'policy.json'), roles: testPolicy.roles.map((role) => role.name), process: 'serve', reason: 'start' },
    ]);
    expect(await askAsAlice()).toEqual({ status: 201 });
  });

  it('on SIGHUP: a file changed where no watch sees it (inside the versioned directory) is in force for the next request', async () => {
    const before = await metric('jitca_policy_loaded_time_seconds');
    fs.writeFileSync(path.join(mount, '..v1', 'policy.json'), policyText(false));
    serve!.kill('SIGHUP');
    await nextPolicyInForce(before);
    expect(await askAsAlice()).toEqual({ status: 403, code: 'ERR_POLICY_DENIED' });
    expect(audit('policy.loaded').at(-1)).toMatchObject({ sha256: sha256(policyText(false)), process: 'serve', reason: 'signal' });
    expect(serve!.exitCode).toBeNull();
  });

  it('on a ConfigMap update (the ..data symlink swapped): the new file decides the next request', async () => {
    const before = await metric('jitca_policy_loaded_time_seconds');
    swapConfigMap('..v2', policyText(true, 1200));
    await nextPolicyInForce(before);
    expect(await askAsAlice()).toEqual({ status: 201 });
    expect(audit('policy.loaded').at(-1)).toMatchObject({ sha256: sha256(policyText(true, 1200)), reason: 'file-change' });
  });

  it('keeps deciding with the policy in force when a broken file is saved, and audits and counts the refusal without its content', async () => {
    const broken = `{"version": 1, "roles": [${SECRET_LOOKING}`;
    saveByRename(broken);
    let refused: Record<string, unknown> | undefined;
    for (let attempt = 0; attempt < 100 && refused === undefined; attempt++) {
      refused = audit('policy.refused')[0];
      if (refused === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refused).toEqual({
      file: path.join(mount, 'policy.json'),
      sha256: sha256(broken),
      code: 'ERR_POLICY_INVALID',
      path: '',
      process: 'serve',
      reason: 'file-change',
      keeping: sha256(policyText(true, 1200)),
    });
    expect(await askAsAlice()).toEqual({ status: 201 });
    expect(await metric('jitca_policy_reload_failures_total')).toBe(1);
    expect(serveOutput).toMatch(/policy reload refused, the policy in force keeps deciding: ERR_POLICY_INVALID/);
    expect(serveOutput).not.toContain(SECRET_LOOKING);
  });

  it('on an editor save by rename after the broken one: the fixed file decides the next request', async () => {
    const before = await metric('jitca_policy_loaded_time_seconds');
    saveByRename(policyText(false, 900));
    await nextPolicyInForce(before);
    expect(await askAsAlice()).toEqual({ status: 403, code: 'ERR_POLICY_DENIED' });
    expect(audit('policy.loaded').at(-1)).toMatchObject({ sha256: sha256(policyText(false, 900)), reason: 'file-change' });
  });
});
