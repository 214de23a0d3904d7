import { describe, expect, it } from 'vitest';
import { canApprove } from '../../src/policy/approval.ts';
import { evaluateSshRequest } from '../../src/policy/evaluate.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { Decision, OperationGrant, SshCertificateRequest } from '../../src/policy/types.ts';
import { PLAIN_KEY, person, policyOf, role, validPolicyDocument } from './policy-fixtures.ts';

const approvers = ['payments-leads'];
/** The table, row by row. */
const MATRIX: OperationGrant[] = [
  { name: 'view-logs', approval: { mode: 'auto' }, maxTtlSeconds: 1800 },
  { name: 'view-config', approval: { mode: 'auto' }, maxTtlSeconds: 1800 },
  { name: 'exec', approval: { mode: 'manual', approverGroups: approvers, approvals: 1 }, maxTtlSeconds: 1800 },
  { name: 'debug', approval: { mode: 'manual', approverGroups: approvers, approvals: 2 }, maxTtlSeconds: 900 },
  { name: 'port-forward', approval: { mode: 'manual', approverGroups: approvers, approvals: 1 }, maxTtlSeconds: 3600 },
];
const matrixRole = role({ name: 'oncall-payments', maxTtlSeconds: 3600, defaultTtlSeconds: 3600, operations: MATRIX });
const policy = policyOf(matrixRole);
const alice = person('alice', ['oncall-payments']);

function decide(request: Omit<SshCertificateRequest, 'role'>, at?: Date, who = alice, roleUsed = matrixRole): Decision {
  return evaluateSshRequest(policyOf(roleUsed), who, { role: roleUsed.name, ...request }, PLAIN_KEY, at);
}

function approvalOf(decision: Decision): string {
  if (decision.outcome === 'deny') return `deny ${decision.rule}`;
  if (decision.outcome === 'approve') return 'auto';
  return `manual ${decision.approval.approvals} of ${decision.approval.approverGroups.join(',')}`;
}

function ttlOf(decision: Decision): number | undefined {
  return decision.outcome === 'deny' ? undefined : decision.grant.ttlSeconds;
}

describe('the operation matrix', () => {
  it.each([
    ['view-logs', 'auto', 1800],
    ['view-config', 'auto', 1800],
    ['exec', 'manual 1 of payments-leads', 1800],
    ['debug', 'manual 2 of payments-leads', 900],
    ['port-forward', 'manual 1 of payments-leads', 3600],
  ] as const)('%s: %s, at most %i s', (operation, approval, max) => {
    const decision = decide({ operations: [operation] });
    expect(approvalOf(decision)).toBe(approval);
    // No TTL asked: the role's default, capped to the operation's maximum.
    expect(ttlOf(decision)).toBe(max);
    expect(decision.outcome === 'deny' ? undefined : decision.grant.operations).toEqual([operation]);
  });

  it('the strictest requested operation decides the approval, the shortest maximum the lifetime', () => {
    const decision = decide({ operations: ['view-logs', 'debug', 'port-forward'] });
    expect(approvalOf(decision)).toBe('manual 2 of payments-leads');
    expect(ttlOf(decision)).toBe(900);
    expect(decision.outcome === 'deny' ? undefined : decision.grant.operations).toEqual(['view-logs', 'debug', 'port-forward']);
  });

  it('caps an asked lifetime to the strictest operation (or refuses it under ttlOverMax deny)', () => {
    const capped = decide({ operations: ['exec', 'port-forward'], ttlSeconds: 3600 });
    expect(ttlOf(capped)).toBe(1800);
    expect(capped.outcome === 'deny' ? [] : capped.notes.join(' ')).toContain('capped to 1800s');
    const strict = role({ ...matrixRole, ttlOverMax: 'deny' });
    expect(approvalOf(decide({ operations: ['debug'], ttlSeconds: 1000 }, undefined, alice, strict))).toBe('deny ttl.max');
    expect(ttlOf(decide({ operations: ['debug'], ttlSeconds: 600 }, undefined, alice, strict))).toBe(600);
  });

  it('grants the least the role allows when the request names no operation', () => {
    const decision = decide({});
    expect(approvalOf(decision)).toBe('auto');
    expect(decision.outcome === 'deny' ? undefined : decision.grant.operations).toEqual(['view-logs']);
    const manualOnly = role({ ...matrixRole, operations: [MATRIX[3]!, MATRIX[2]!] });
    const least = decide({}, undefined, alice, manualOnly);
    expect(least.outcome === 'deny' ? undefined : least.grant.operations).toEqual(['exec']);
  });

  it('refuses an unknown operation, one the role does not grant, and operations on a role without any', () => {
    expect(approvalOf(decide({ operations: ['rm-rf' as never] }))).toBe('deny operations.unknown');
    const logsOnly = role({ ...matrixRole, operations: [MATRIX[0]!] });
    expect(approvalOf(decide({ operations: ['exec'] }, undefined, alice, logsOnly))).toBe('deny operations.not-allowed');
    const legacy = role({ name: 'legacy', groups: ['oncall-payments'] });
    expect(approvalOf(decide({ operations: ['view-logs'] }, undefined, alice, legacy))).toBe('deny operations.not-allowed');
    expect(approvalOf(decide({ operations: ['View Logs' as never] }))).toBe('deny request.invalid');
    expect(approvalOf(decide({ operations: [] }))).toBe('deny request.invalid');
  });

  it('leaves a role without operations decided as before: its own approval and lifetime, no operations in the grant', () => {
    const legacy = role({ name: 'legacy', groups: ['oncall-payments'], approval: { mode: 'manual', approverGroups: ['leads'], approvals: 2 } });
    const decision = decide({ ttlSeconds: 1800 }, undefined, alice, legacy);
    expect(approvalOf(decision)).toBe('manual 2 of leads');
    expect(ttlOf(decision)).toBe(1800);
    expect(decision.outcome === 'deny' ? 'deny' : 'operations' in decision.grant).toBe(false);
  });

  it('lets approvers act on what the operations need, even when the role itself is automatic', () => {
    const needed = { approverGroups: approvers, approvals: 2 as const };
    const lead = person('lead', ['payments-leads']);
    expect(canApprove(policy, 'oncall-payments', lead, 'alice', [], needed)).toEqual({ ok: true });
    expect(canApprove(policy, 'oncall-payments', lead, 'alice', []).ok).toBe(false);
    expect(canApprove(policy, 'oncall-payments', person('bob', ['other']), 'alice', [], needed)).toMatchObject({ rule: 'approval.group' });
    expect(canApprove(policy, 'oncall-payments', lead, 'alice', ['x', 'y'], needed)).toMatchObject({ rule: 'approval.complete' });
  });
});

describe('working hours', () => {
  const hours = {
    days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const,
    start: '09:00',
    end: '18:00',
    timeZone: 'Europe/Berlin',
    onCallGroups: ['oncall'],
    outsideApproval: { approverGroups: ['sre-leads'], approvals: 1 as const },
  };
  const windowed = role({ ...matrixRole, workingHours: { ...hours, days: [...hours.days] } });
  const bob = person('bob', ['oncall-payments']);
  const carol = person('carol', ['oncall-payments', 'oncall']);
  const at = (iso: string): Date => new Date(iso);

  it('decides as usual inside the window, and outside it for on-call', () => {
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-25T10:00:00Z'), bob, windowed))).toBe('auto');
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-25T20:00:00Z'), carol, windowed))).toBe('auto');
    // Saturday is outside for everyone; on-call still decided as usual.
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-28T10:00:00Z'), carol, windowed))).toBe('auto');
  });

  it('makes a request outside the window manual unless on-call, never weaker than the operation', () => {
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-25T20:00:00Z'), bob, windowed))).toBe('manual 1 of sre-leads');
    expect(approvalOf(decide({ operations: ['debug'] }, at('2026-03-25T20:00:00Z'), bob, windowed))).toBe('manual 2 of payments-leads');
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-28T10:00:00Z'), bob, windowed))).toBe('manual 1 of sre-leads');
  });

  it('refuses outside the window without an outside approval, and counts an unknown time as outside', () => {
    const { outsideApproval: _none, ...onCallOnly } = hours;
    const strict = role({ ...matrixRole, workingHours: { ...onCallOnly, days: [...hours.days] } });
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-25T20:00:00Z'), bob, strict))).toBe('deny working-hours.on-call');
    expect(approvalOf(decide({ operations: ['view-logs'] }, undefined, bob, strict))).toBe('deny working-hours.on-call');
  });

  it("follows the zone's daylight saving: 09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer", () => {
    // Berlin moves to CEST on Sunday 2026-03-29; Monday 30 March 07:30 UTC is 09:30 local (inside),
    // the Friday before at 07:30 UTC is 08:30 local (outside).
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-30T07:30:00Z'), bob, windowed))).toBe('auto');
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-27T07:30:00Z'), bob, windowed))).not.toBe('auto');
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-27T08:00:00Z'), bob, windowed))).toBe('auto');
    // Back to CET on 2026-10-25: 17:30 UTC on Friday 23 October is 19:30 local (outside), on
    // Monday 26 October 17:30 UTC is 18:30 local (outside) and 16:59 UTC is 17:59 (inside).
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-10-23T15:59:00Z'), bob, windowed))).toBe('auto');
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-10-23T16:00:00Z'), bob, windowed))).not.toBe('auto');
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-10-26T16:59:00Z'), bob, windowed))).toBe('auto');
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-10-26T17:00:00Z'), bob, windowed))).not.toBe('auto');
  });

  it('runs a window that ends after midnight into the next day, on the day it started', () => {
    const night = role({ ...matrixRole, workingHours: { ...hours, days: ['fri'], start: '22:00', end: '06:00', timeZone: 'UTC' } });
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-27T23:00:00Z'), bob, night))).toBe('auto');
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-28T05:59:00Z'), bob, night))).toBe('auto');
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-28T23:00:00Z'), bob, night))).not.toBe('auto');
    expect(approvalOf(decide({ operations: ['view-logs'] }, at('2026-03-27T05:00:00Z'), bob, night))).not.toBe('auto');
  });
});

describe('loading operations and working hours', () => {
  function load(change: (role: Record<string, unknown>) => void): () => unknown {
    const document = validPolicyDocument();
    change(document.roles[0]!);
    return () => parsePolicy(JSON.stringify(document));
  }

  it('loads the matrix and a window', () => {
    const loaded = load((r) => {
      r['operations'] = MATRIX.map((grant) => ({ ...grant, maxTtlSeconds: Math.min(grant.maxTtlSeconds, 1800) }));
      r['workingHours'] = { days: ['mon'], start: '09:00', end: '17:00', timeZone: 'America/New_York', onCallGroups: ['oncall'] };
    })() as { roles: { operations: unknown[] }[] };
    expect(loaded.roles[0]!.operations).toHaveLength(5);
  });

  it.each([
    ['an unknown operation', (r: Record<string, unknown>) => (r['operations'] = [{ name: 'ssh', approval: { mode: 'auto' }, maxTtlSeconds: 600 }])],
    ['an operation twice', (r: Record<string, unknown>) => (r['operations'] = [MATRIX[0], MATRIX[0]])],
    ['an operation longer than its role', (r: Record<string, unknown>) => (r['operations'] = [{ ...MATRIX[0], maxTtlSeconds: 3600 }])],
    ['a system: approver', (r: Record<string, unknown>) => (r['operations'] = [{ ...MATRIX[2], approval: { mode: 'manual', approverGroups: ['system:masters'], approvals: 1 } }])],
    ['an unknown time zone', (r: Record<string, unknown>) => (r['workingHours'] = { days: ['mon'], start: '09:00', end: '17:00', timeZone: 'Mars/Olympus', onCallGroups: ['oncall'] })],
    ['an empty window', (r: Record<string, unknown>) => (r['workingHours'] = { days: ['mon'], start: '09:00', end: '09:00', timeZone: 'UTC', onCallGroups: ['oncall'] })],
    ['a time of 24:00', (r: Record<string, unknown>) => (r['workingHours'] = { days: ['mon'], start: '09:00', end: '24:00', timeZone: 'UTC', onCallGroups: ['oncall'] })],
  ])('refuses %s', (_what, change) => {
    expect(load(change)).toThrow(expect.objectContaining({ code: 'ERR_POLICY_INVALID' }));
  });
});
