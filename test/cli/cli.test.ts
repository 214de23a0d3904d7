import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPolicy } from '../support/ca-fixture.ts';

const jitca = path.resolve(import.meta.dirname, '../../bin/jitca');

function run(dataDir: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(jitca, ['--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Content hash and mtime of every file under dir: "nothing changed" made checkable. SoftHSM2
 * rewrites its own bookkeeping (generation, token.object, *.lock) at every C_Initialize/C_Login,
 * so those are left out; the key objects, PIN files and configuration must stay byte-identical.
 */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || /^(generation|token\.object)$|\.lock$/.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    out[file] = `${createHash('sha256').update(readFileSync(file)).digest('hex')}@${statSync(file).mtimeMs}`;
  }
  return out;
}

describe('jitca CLI on the embedded defaults', () => {
  let dataDir: string;
  let key: string;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-cli-'));
    writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(testPolicy));
    key = path.join(dataDir, 'id_ecdsa');
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '256', '-N', '', '-f', key]);
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('init creates the token, CA key and store once; a second run changes nothing', () => {
    const first = run(dataDir, ['init']);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/created softhsm2 token "jitca"/);
    expect(first.stdout).toMatch(/created SSH user CA key ssh-user-ca\/1 \(ed25519, non-extractable\)/);
    const pinMode = statSync(path.join(dataDir, 'hsm', 'user.pin')).mode & 0o777;
    expect(pinMode).toBe(0o600);
    const before = snapshot(path.join(dataDir, 'hsm'));
    const keyObjects = Object.keys(before).filter((file) => file.endsWith('.object'));
    expect(keyObjects).toHaveLength(6); // three key pairs (SSH user CA, Kubernetes client CA, local session tokens)
    const bundleBefore = run(dataDir, ['bundle']).stdout;
    const second = run(dataDir, ['init']);
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/nothing changed/);
    expect(snapshot(path.join(dataDir, 'hsm'))).toEqual(before);
    expect(run(dataDir, ['bundle']).stdout).toBe(bundleBefore);
  });

  it('issue-ssh issues a certificate ssh-keygen decodes, with scope extensions', () => {
    const out = path.join(dataDir, 'id_ecdsa-cert.pub');
    const result = run(dataDir, [
      'issue-ssh', '--identity', 'alice', '--group', 'oncall-payments', '--pubkey', `${key}.pub`,
      '--principal', 'oncall-payments', '--ttl', '10m', '--cluster', 'prod', '--namespace', 'payments',
      '--command', 'kubectl logs', '--reason', 'INC-1', '--out', out,
    ]);
    expect(result.stderr).toMatch(/issued serial \d+ to alice as oncall-payments/);
    expect(result.status).toBe(0);
    const listing = execFileSync('ssh-keygen', ['-L', '-f', out], { encoding: 'utf8' });
    expect(listing).toMatch(/Type: ecdsa-sha2-nistp256-cert-v01@openssh.com user certificate/);
    expect(listing).toMatch(/Signing CA: ED25519 /);
    expect(listing).toMatch(/Key ID: "alice\/req_[0-9a-f]{32}"/);
    expect(listing).toMatch(/Principals: \n\s+oncall-payments\n/);
    expect(listing).toMatch(/scope-namespace@jitca.dev/);
  });

  it('refuses a malformed key and a policy violation with stable codes, writing nothing for the malformed key', () => {
    const countAudit = (): number => {
      const db = new Database(path.join(dataDir, 'jitca.sqlite'), { readonly: true });
      try {
        return (db.prepare('select count(*) as n from audit_log').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const bad = path.join(dataDir, 'bad.pub');
    writeFileSync(bad, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== truncated\n');
    const before = countAudit();
    const malformed = run(dataDir, ['issue-ssh', '--identity', 'alice', '--group', 'oncall-payments', '--pubkey', bad]);
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toMatch(/^jitca: ERR_(KEY_MALFORMED|WIRE_TRUNCATED): /);
    expect(countAudit()).toBe(before);

    const denied = run(dataDir, [
      'issue-ssh', '--identity', 'alice', '--group', 'oncall-payments', '--pubkey', `${key}.pub`, '--principal', 'root',
    ]);
    expect(denied.status).toBe(2);
    expect(denied.stderr).toMatch(/^jitca: ERR_POLICY_DENIED: .*\[rule principals.not-allowed\]/);
    // A denial is a decision: it is audited.
    expect(countAudit()).toBe(before + 1);
  });

  it('audit head prints an anchor; verify --anchor then catches the newest records being deleted', () => {
    const head = run(dataDir, ['audit', 'head']);
    expect(head.status).toBe(0);
    const anchor = head.stdout.trim();
    expect(anchor).toMatch(/^\d+:[0-9a-f]{64}$/);
    const seq = Number(anchor.split(':')[0]);
    const anchored = run(dataDir, ['audit', 'verify', '--anchor', anchor]);
    expect(anchored.status).toBe(0);
    expect(anchored.stdout).toMatch(new RegExp(`audit: ${seq} records, chain intact, 1 anchor\\(s\\) matched`));

    const db = new Database(path.join(dataDir, 'jitca.sqlite'));
    const newest = db.prepare('select * from audit_log where seq = ?').get(seq) as Record<string, unknown>;
    db.prepare('delete from audit_log where seq = ?').run(seq);
    db.close();
    try {
      // The shorter chain still verifies on its own; the anchor kept outside shows what is missing.
      expect(run(dataDir, ['audit', 'verify']).status).toBe(0);
      const truncated = run(dataDir, ['audit', 'verify', '--anchor', anchor]);
      expect(truncated.status).toBe(1);
      expect(truncated.stdout).toMatch(new RegExp(`chain BROKEN at seq ${seq} \\(truncated\\)`));
      const malformed = run(dataDir, ['audit', 'verify', '--anchor', 'latest']);
      expect(malformed.status).toBe(2);
      expect(malformed.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: audit anchor "latest" must be <seq>:<64 lowercase hex digits>/);
    } finally {
      const restore = new Database(path.join(dataDir, 'jitca.sqlite'));
      const columns = Object.keys(newest);
      restore.prepare(`insert into audit_log (${columns.join(', ')}) values (${columns.map((c) => `@${c}`).join(', ')})`).run(newest);
      restore.close();
    }
    expect(run(dataDir, ['audit', 'verify', '--anchor', anchor]).status).toBe(0);
  });

  it('audit export writes a copy that verifies on its own, resumes after a seq, and catches edits to the copy', () => {
    const whole = run(dataDir, ['audit', 'export']);
    expect(whole.status).toBe(0);
    const lines = whole.stdout.trimEnd().split('\n');
    const head = run(dataDir, ['audit', 'head']).stdout.trim();
    const [headSeq] = head.split(':');
    expect(lines).toHaveLength(Number(headSeq));
    expect(whole.stderr).toBe(`audit: exported ${lines.length} records; last ${head} (next: --after ${headSeq})\n`);

    // The same records in two runs, the second resumed where the first stopped.
    const first = run(dataDir, ['audit', 'export', '--limit', '2']);
    const resumed = run(dataDir, ['audit', 'export', '--after', '2']);
    expect(first.stdout + resumed.stdout).toBe(whole.stdout);

    const copy = path.join(dataDir, 'audit-copy.jsonl');
    writeFileSync(copy, whole.stdout);
    const verified = run(dataDir, ['audit', 'verify', '--file', copy, '--anchor', head]);
    expect(verified.stdout).toBe(`audit: ${lines.length} records, chain intact, 1 anchor(s) matched\n`);
    expect(verified.status).toBe(0);
    const part = path.join(dataDir, 'audit-part.jsonl');
    writeFileSync(part, resumed.stdout);
    const secondRecord = JSON.parse(first.stdout.trimEnd().split('\n')[1]!) as { hash: string };
    expect(run(dataDir, ['audit', 'verify', '--file', part, '--after', `2:${secondRecord.hash}`]).status).toBe(0);
    expect(run(dataDir, ['audit', 'verify', '--file', part]).status).toBe(1);

    writeFileSync(copy, whole.stdout.replace('"actor":"alice"', '"actor":"mallory"'));
    const edited = run(dataDir, ['audit', 'verify', '--file', copy]);
    expect(edited.status).toBe(1);
    expect(edited.stdout).toMatch(/chain BROKEN at seq \d+ \(hash-mismatch\)/);
    writeFileSync(copy, `${whole.stdout}{"seq":`);
    const malformed = run(dataDir, ['audit', 'verify', '--file', copy]);
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toBe(`jitca: ERR_REQUEST_INVALID: audit export line ${lines.length + 1}: not JSON\n`);
    expect(run(dataDir, ['audit', 'verify', '--after', head]).stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: --after applies to --file only/);
  });

  it('audit verify passes, then names the first record changed behind its back', () => {
    const intact = run(dataDir, ['audit', 'verify']);
    expect(intact.status).toBe(0);
    expect(intact.stdout).toMatch(/audit: \d+ records, chain intact/);
    const db = new Database(path.join(dataDir, 'jitca.sqlite'));
    db.prepare(`update audit_log set actor = 'mallory' where seq = 2`).run();
    db.close();
    const broken = run(dataDir, ['audit', 'verify']);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toMatch(/chain BROKEN at seq 2 \(hash-mismatch\)/);
  });

  it('audit and revoke refuse a data directory without a database instead of creating an empty one', () => {
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'jitca-cli-empty-'));
    try {
      for (const args of [['audit', 'verify'], ['audit', 'head'], ['audit', 'export'], ['revoke', '--serial', '1', '--reason', 'test']]) {
        const result = run(elsewhere, args);
        expect(result.status, args.join(' ')).toBe(2);
        expect(result.stderr).toMatch(/^jitca: ERR_CONFIG_INVALID: no jitca database at .*jitca\.sqlite/);
      }
      expect(readdirSync(elsewhere)).toEqual([]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('bundle, issue-ssh and controller refuse a missing or empty data directory and create nothing there (only init and serve create)', () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'jitca-cli-none-'));
    const missing = path.join(parent, 'data');
    const empty = mkdtempSync(path.join(tmpdir(), 'jitca-cli-empty-'));
    try {
      const commands = [
        ['bundle'],
        ['bundle', '--format', 'pem'],
        ['issue-ssh', '--identity', 'alice', '--pubkey', `${key}.pub`, '--role', 'oncall-payments'],
        ['controller', '--kubeconfig', path.join(parent, 'kubeconfig')],
        ['rotate', 'apply', '--force'],
      ];
      for (const dir of [missing, empty]) {
        for (const args of commands) {
          const result = run(dir, args);
          expect(result.status, `${dir} ${args.join(' ')}`).toBe(2);
          expect(result.stderr, args.join(' ')).toMatch(/^jitca: ERR_CONFIG_INVALID: no jitca (data directory|database) at /);
        }
      }
      expect(readdirSync(parent)).toEqual([]);
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
      rmSync(empty, { recursive: true, force: true });
    }
  }, 120_000);

  it('rotate apply --emergency says what it would break and does nothing without --yes', () => {
    expect(run(dataDir, ['init']).status).toBe(0); // idempotent: this test may run alone
    const before = run(dataDir, ['rotate', 'status', '--json']);
    expect(before.status).toBe(0);
    const refused = run(dataDir, ['rotate', 'apply', '--emergency', '--ca', 'ssh-user', '--reason', 'INC-1']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^jitca: ERR_ROTATION_REFUSED: apply --emergency retires the active ssh-user generation at once: every certificate it signed stops working now/);
    expect(run(dataDir, ['rotate', 'status', '--json']).stdout).toBe(before.stdout);
  });

  it('every command answers --help', async () => {
    const commands = ['init', 'serve', 'issue-ssh', 'bundle', 'revoke', 'trust-sync', 'controller', 'login', 'ssh-cert', 'kube-credential', 'kubeconfig', 'gateway', 'rotate'];
    const argsList = [['--help'], ...commands.map((command) => [command, '--help']), ['audit', 'verify', '--help'], ['audit', 'head', '--help'], ['audit', 'export', '--help'], ['audit', 'truncate', '--help'], ['policy', 'check', '--help'], ['policy', 'evaluate', '--help'], ['gateway', 'principals', '--help'], ['rotate', 'status', '--help'], ['rotate', 'apply', '--help']];
    // Side by side: each is a process start, and one after another they took most of a minute on a loaded machine.
    const results = await Promise.all(argsList.map((args) => promisify(execFile)(jitca, ['--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 60_000 })));
    for (const [i, result] of results.entries()) expect(result.stdout, argsList[i]!.join(' ')).toMatch(/Usage: jitca/);
  }, 120_000);
});
