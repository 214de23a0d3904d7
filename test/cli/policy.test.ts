import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runJitca } from '../support/jitca-cli.ts';

const root = path.resolve(import.meta.dirname, '../..');
const example = path.join(root, 'deploy/policy.example.json');
const dir = mkdtempSync(path.join(tmpdir(), 'jitca-policy-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runJitca;

describe('jitca policy (no CA needed)', () => {
  it('check validates the file, prints the SHA-256 that policy.loaded audits, and one line per role', async () => {
    const result = await run(['policy', 'check', example]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const digest = createHash('sha256').update(readFileSync(example)).digest('hex');
    const roles = (JSON.parse(readFileSync(example, 'utf8')) as { roles: Array<{ name: string }> }).roles.map((role) => role.name);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`policy ${example}: valid, ${roles.length} role(s), sha256 ${digest}`);
    expect(lines.filter((line) => line.startsWith('role ')).map((line) => line.split(';')[0])).toEqual(roles.map((name) => `role ${name}`));
    expect(result.stdout).toMatch(/^role break-glass;.*approval manual: 2 of sre-leads;/m);
  });

  it('check refuses a broken file naming where, exit 2, including a key written twice', async () => {
    const missing = path.join(dir, 'missing-domain.json');
    writeFileSync(missing, JSON.stringify({ version: 1, roles: [] }));
    const invalid = await run(['policy', 'check', missing]);
    expect(invalid.status).toBe(2);
    expect(invalid.stderr).toMatch(/^jitca: ERR_POLICY_INVALID: .*\/extensionDomain is required/);
    const twice = path.join(dir, 'twice.json');
    writeFileSync(twice, readFileSync(example, 'utf8').replace('"roles"', '"version": 2, "roles"'));
    const duplicate = await run(['policy', 'check', twice]);
    expect(duplicate.status).toBe(2);
    expect(duplicate.stderr).toMatch(/^jitca: ERR_POLICY_INVALID: .*\/version/);
    expect(duplicate.stdout).toBe('');
  });

  it('evaluate decides as the CA does and prints the grant; --expect turns it into a test', async () => {
    const capped = await run(['policy', 'evaluate', example, '--identity', 'alice', '--group', 'oncall-payments', '--ttl', '2h', '--cluster', 'prod', '--namespace', 'payments']);
    expect(capped.status).toBe(0);
    expect(JSON.parse(capped.stdout)).toMatchObject({
      outcome: 'approve',
      role: 'oncall-payments',
      grant: { principals: ['oncall-payments'], ttlSeconds: 1800, scope: { cluster: 'prod', namespace: 'payments' } },
      notes: [expect.stringMatching(/capped to 1800s/)],
    });

    const root = await run(['policy', 'evaluate', example, '--identity', 'alice', '--group', 'oncall-payments', '--principal', 'root', '--expect', 'deny']);
    expect(root.status).toBe(0);
    expect(JSON.parse(root.stdout)).toMatchObject({ outcome: 'deny', rule: 'principals.not-allowed' });

    // A change that made break-glass automatic would fail this line in the policy repository's CI.
    const breakGlass = await run(['policy', 'evaluate', example, '--identity', 'bob', '--group', 'sre', '--role', 'break-glass', '--cluster', 'prod', '--namespace', 'kube-system', '--expect', 'approve']);
    expect(breakGlass.status).toBe(1);
    expect(JSON.parse(breakGlass.stdout)).toMatchObject({ outcome: 'pending', approval: { approvals: 2, approverGroups: ['sre-leads'] } });
    expect(breakGlass.stderr).toBe('jitca: expected approve, the policy decides pending\n');

    const badVia = await run(['policy', 'evaluate', example, '--identity', 'bob', '--via', 'carrier-pigeon']);
    expect(badVia.status).toBe(2);
    expect(badVia.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: --via must be one of local-cli, oidc, local, gateway/);
  });

  /** A CSR made by the real openssl, as an engineer would for `kubectl create -f`. */
  function csrFile(name: string, subject: string): string {
    const key = path.join(dir, `${name}.key`);
    const file = path.join(dir, `${name}.csr`);
    execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', key]);
    execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', file]);
    return file;
  }

  it('evaluate --csr decides a Kubernetes CSR as the controller does, and --expect makes it a test', async () => {
    const alice = csrFile('alice', '/CN=alice/O=jit:payments:debug-read-only');
    const allowed = await run(['policy', 'evaluate', example, '--csr', alice, '--username', 'alice', '--group', 'oncall-payments', '--expiration-seconds', '3600', '--expect', 'approve']);
    expect(allowed.stderr).toBe('');
    expect(allowed.status).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({
      outcome: 'approve',
      rule: 'csr.allowed',
      grant: { role: 'oncall-payments', commonName: 'alice', organizations: ['jit:payments:debug-read-only'], expirationSeconds: 1800, capped: true, operations: ['view-logs', 'view-config'] },
    });

    // kube-controller-manager signs these and cannot be made to issue less: over the maximum is denied.
    const overMax = await run(['policy', 'evaluate', example, '--csr', alice, '--username', 'alice', '--group', 'oncall-payments', '--signer-name', 'kubernetes.io/kube-apiserver-client', '--expiration-seconds', '3600', '--expect', 'approve']);
    expect(overMax.status).toBe(1);
    expect(JSON.parse(overMax.stdout)).toMatchObject({ outcome: 'deny', rule: 'csr.expiration-over-max' });
    expect(overMax.stderr).toBe('jitca: expected approve, the policy decides deny\n');

    const notHers = await run(['policy', 'evaluate', example, '--csr', alice, '--username', 'mallory', '--group', 'oncall-payments', '--expect', 'deny']);
    expect(notHers.status).toBe(0);
    expect(JSON.parse(notHers.stdout)).toMatchObject({ rule: 'csr.cn-mismatch' });

    const jitDebug = csrFile('jit', '/CN=alice/O=jit:oncall:payments');
    const pending = await run(['policy', 'evaluate', example, '--csr', jitDebug, '--username', 'alice', '--group', 'jit:oncall:payments', '--expect', 'pending']);
    expect(pending.status).toBe(0);
    expect(JSON.parse(pending.stdout)).toMatchObject({ outcome: 'pending', approverGroups: ['sre-leads'] });

    const garbage = path.join(dir, 'garbage.csr');
    writeFileSync(garbage, 'not a certificate request');
    const invalid = await run(['policy', 'evaluate', example, '--csr', garbage, '--username', 'alice', '--expect', 'deny']);
    expect(invalid.status).toBe(0);
    expect(JSON.parse(invalid.stdout)).toMatchObject({ rule: 'csr.invalid' });

    const badSeconds = await run(['policy', 'evaluate', example, '--csr', alice, '--username', 'alice', '--expiration-seconds', 'abc']);
    expect(badSeconds.status).toBe(2);
    expect(badSeconds.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: --expiration-seconds must be a whole number of seconds, 1 or more, not "abc"/);
    const noUser = await run(['policy', 'evaluate', example, '--csr', alice]);
    expect(noUser.status).toBe(2);
    expect(noUser.stderr).toMatch(/^jitca: ERR_REQUEST_INVALID: --csr needs --username/);
  });
});

describe('jitca policy evaluate --at (working hours)', () => {
  const windowed = path.join(dir, 'working-hours.json');
  const document = JSON.parse(readFileSync(example, 'utf8')) as { roles: Array<Record<string, unknown>> };
  document.roles[0]!['workingHours'] = {
    days: ['mon', 'tue', 'wed', 'thu', 'fri'],
    start: '09:00',
    end: '18:00',
    timeZone: 'Europe/Berlin',
    onCallGroups: ['oncall-payments-primary'],
  };
  writeFileSync(windowed, JSON.stringify(document));
  const evaluate = (at: string, ...groups: string[]) =>
    run(['policy', 'evaluate', windowed, '--identity', 'alice', '--group', 'oncall-payments', ...groups.flatMap((g) => ['--group', g]), '--operation', 'view-logs', '--at', at]);

  it('decides inside the window, refuses outside it unless on-call, and follows daylight saving', async () => {
    const inside = await evaluate('2026-03-30T09:30:00+02:00');
    expect(JSON.parse(inside.stdout)).toMatchObject({ outcome: 'approve', grant: { operations: ['view-logs'] } });
    // 07:30 UTC: 08:30 in Berlin on the Friday before the change to summer time, 09:30 the Monday after.
    expect(JSON.parse((await evaluate('2026-03-27T07:30:00Z')).stdout)).toMatchObject({ outcome: 'deny', rule: 'working-hours.on-call' });
    expect(JSON.parse((await evaluate('2026-03-30T07:30:00Z')).stdout)).toMatchObject({ outcome: 'approve' });
    const onCall = await evaluate('2026-03-28T03:00:00Z', 'oncall-payments-primary');
    expect(JSON.parse(onCall.stdout)).toMatchObject({ outcome: 'approve', notes: expect.arrayContaining([expect.stringContaining('allowed as on-call')]) });
  });

  it('refuses a time without a zone or not a time', async () => {
    for (const at of ['2026-03-30T09:30:00', 'tomorrow']) {
      const result = await evaluate(at);
      expect(result.status, at).not.toBe(0);
      expect(result.stderr).toContain('--at must be an ISO 8601 time with a zone');
    }
  });
});
