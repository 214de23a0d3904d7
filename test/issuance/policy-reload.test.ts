/**
 * The policy holder and the reload into it (issuance/policy-reload.ts), on a real SQLite store: a
 * file that loads is audited and then decides; one that does not keeps the policy in force, is
 * audited once by its digest, code and JSON path (never its content), and is counted.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createPolicyHolder, type PolicyHolder } from '../../src/issuance/policy-in-force.ts';
import { createPolicyReloader } from '../../src/issuance/policy-reload.ts';
import { loadPolicyWithDigest } from '../../src/policy/load.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { testPolicy } from '../support/ca-fixture.ts';

const SECRET_LOOKING = 'do-not-log-this-text';

let dir: string;
let store: Store;
const clock = fixedClock(Date.parse('2026-12-04T12:00:00Z'));

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'jitca-policy-reload-'));
  store = await openStore({ sqlitePath: path.join(dir, 'jitca.sqlite'), clock });
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Saves as editors and `kubectl cp` do: a whole new file renamed over the old name. */
function saveAtomically(file: string, text: string): string {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
  return createHash('sha256').update(text).digest('hex');
}

function withRoles(names: string[]): string {
  return JSON.stringify({ ...testPolicy, roles: testPolicy.roles.filter((role) => names.includes(role.name)) });
}

function recordingLog(): { lines: Array<{ level: string; fields: Record<string, unknown>; message: string }>; info: (f: Record<string, unknown>, m: string) => void; warn: (f: Record<string, unknown>, m: string) => void } {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  return {
    lines,
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
  };
}

async function auditOf(type: string): Promise<Array<Record<string, unknown>>> {
  return (await store.listAudit()).filter((record) => record.type === type).map((record) => record.data);
}

function started(file: string): PolicyHolder {
  const { policy, sha256 } = loadPolicyWithDigest(file);
  return createPolicyHolder({ policy, digest: sha256, loadedAt: clock.now() });
}

describe('the policy holder', () => {
  it('swaps the version in force; a version read before the swap stays whole', () => {
    const file = path.join(dir, 'holder.json');
    saveAtomically(file, withRoles(['oncall-payments']));
    const holder = started(file);
    const read = holder.current();
    const next = { ...loadPolicyWithDigest(file), loadedAt: clock.now() + 1 };
    holder.replace({ policy: next.policy, digest: 'other', loadedAt: next.loadedAt });
    expect(read.digest).not.toBe('other');
    expect(read.policy.roles.map((role) => role.name)).toEqual(['oncall-payments']);
    expect(holder.current().digest).toBe('other');
  });
});

describe('reloading the policy file', () => {
  it('loads a saved file: audited as policy.loaded with its digest, roles, process and reason, then in force', async () => {
    const file = path.join(dir, 'loads.json');
    saveAtomically(file, withRoles(['oncall-payments']));
    const holder = started(file);
    const log = recordingLog();
    const reloader = createPolicyReloader({ holder, file, store, process: 'serve', clock, log });

    expect(await reloader.reload('signal')).toBe('unchanged');
    const digest = saveAtomically(file, withRoles(['oncall-payments', 'break-glass']));
    expect(await reloader.reload('file-change')).toBe('loaded');

    expect(holder.current().digest).toBe(digest);
    expect(holder.current().policy.roles.map((role) => role.name)).toEqual(['oncall-payments', 'break-glass']);
    expect((await auditOf('policy.loaded')).at(-1)).toEqual({ sha256: digest, file, roles: ['oncall-payments', 'break-glass'], process: 'serve', reason: 'file-change' });
    expect(holder.refusals()).toBe(0);
  });

  it('keeps the policy in force for a broken file, audits the refusal once with digest, code and path, and never logs the content', async () => {
    const file = path.join(dir, 'broken.json');
    saveAtomically(file, withRoles(['oncall-payments']));
    const holder = started(file);
    const inForce = holder.current();
    const log = recordingLog();
    const reloader = createPolicyReloader({ holder, file, store, process: 'controller', clock, log });
    const refusedBefore = (await auditOf('policy.refused')).length;

    const notJson = saveAtomically(file, `{"version": 1, "roles": [${SECRET_LOOKING}`);
    expect(await reloader.reload('file-change')).toBe('refused');
    // The watch and a signal for the same bytes: one refusal.
    expect(await reloader.reload('signal')).toBe('refused');
    expect(holder.current()).toBe(inForce);
    expect(holder.refusals()).toBe(1);

    const invalid = saveAtomically(file, JSON.stringify({ ...testPolicy, roles: [{ ...testPolicy.roles[0], maxTtlSeconds: -1 }] }));
    expect(await reloader.reload('signal')).toBe('refused');
    expect(holder.current()).toBe(inForce);
    expect(holder.refusals()).toBe(2);

    const refusals = (await auditOf('policy.refused')).slice(refusedBefore);
    expect(refusals).toEqual([
      { file, sha256: notJson, code: 'ERR_POLICY_INVALID', path: '', process: 'controller', reason: 'file-change', keeping: inForce.digest },
      { file, sha256: invalid, code: 'ERR_POLICY_INVALID', path: '/roles/0/maxTtlSeconds', process: 'controller', reason: 'signal', keeping: inForce.digest },
    ]);
    const warnings = log.lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(2);
    expect(warnings[1]!.message).toMatch(/ERR_POLICY_INVALID at \/roles\/0\/maxTtlSeconds/);
    expect(JSON.stringify(log.lines)).not.toContain(SECRET_LOOKING);
    expect(JSON.stringify(refusals)).not.toContain(SECRET_LOOKING);

    // A pointer naming a field the file invented is kept to a bounded length.
    saveAtomically(file, JSON.stringify({ ...testPolicy, ['x'.repeat(10_000)]: true }));
    expect(await reloader.reload('signal')).toBe('refused');
    expect(String((await auditOf('policy.refused')).at(-1)!['path'])).toHaveLength(256 + '...'.length);

    // Fixed: the next save loads.
    const fixed = saveAtomically(file, withRoles(['forced']));
    expect(await reloader.reload('file-change')).toBe('loaded');
    expect(holder.current().digest).toBe(fixed);
  });

  it('refuses a missing file (the digest is null) and keeps the policy in force', async () => {
    const file = path.join(dir, 'missing.json');
    saveAtomically(file, withRoles(['oncall-payments']));
    const holder = started(file);
    const inForce = holder.current();
    const reloader = createPolicyReloader({ holder, file, store, process: 'serve', clock, log: recordingLog() });
    rmSync(file);
    expect(await reloader.reload('signal')).toBe('refused');
    expect(holder.current()).toBe(inForce);
    expect((await auditOf('policy.refused')).at(-1)).toMatchObject({ file, sha256: null, code: 'ERR_POLICY_INVALID' });
  });

  it('does not put in force a policy whose policy.loaded record could not be written, and tries again on the next reload', async () => {
    const file = path.join(dir, 'unaudited.json');
    saveAtomically(file, withRoles(['oncall-payments']));
    const holder = started(file);
    const inForce = holder.current();
    const closed = await openStore({ sqlitePath: path.join(dir, 'closed.sqlite'), clock });
    await closed.close();
    const log = recordingLog();
    const digest = saveAtomically(file, withRoles(['forced']));
    expect(await createPolicyReloader({ holder, file, store: closed, process: 'serve', clock, log }).reload('signal')).toBe('refused');
    expect(holder.current()).toBe(inForce);
    expect(holder.refusals()).toBe(1);
    expect(await createPolicyReloader({ holder, file, store, process: 'serve', clock, log }).reload('signal')).toBe('loaded');
    expect(holder.current().digest).toBe(digest);
  });

  it('runs reloads one at a time in the order asked: the last save is the one in force', async () => {
    const file = path.join(dir, 'ordered.json');
    saveAtomically(file, withRoles(['oncall-payments']));
    const holder = started(file);
    const reloader = createPolicyReloader({ holder, file, store, process: 'serve', clock, log: recordingLog() });
    saveAtomically(file, withRoles(['forced']));
    const first = reloader.reload('signal');
    const last = saveAtomically(file, withRoles(['break-glass']));
    const second = reloader.reload('file-change');
    expect(await Promise.all([first, second])).toEqual(['loaded', 'unchanged']);
    expect(holder.current().digest).toBe(last);
  });
});
