import { describe, expect, it } from 'vitest';
import { canApprove } from '../../src/policy/evaluate.ts';
import { person, policyOf, role } from './policy-fixtures.ts';

const policy = policyOf(
  role({ name: 'oncall-payments', groups: ['oncall-payments'] }),
  role({
    name: 'break-glass',
    groups: ['sre'],
    approval: { mode: 'manual', approverGroups: ['sre-leads', 'security'], approvals: 2 },
  }),
  role({
    name: 'jit-debug-payments',
    groups: ['jit:oncall:payments'],
    approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 1 },
  }),
);

const carol = person('carol', ['sre-leads']);
const dave = person('dave', ['security']);

describe('canApprove', () => {
  it('a lead who is not the requester may approve', () => {
    expect(canApprove(policy, 'break-glass', carol, 'bob', [])).toEqual({ ok: true });
    expect(canApprove(policy, 'jit-debug-payments', carol, 'alice', [])).toEqual({ ok: true });
  });

  it('a second, different approver completes a two-person rule', () => {
    expect(canApprove(policy, 'break-glass', dave, 'bob', ['carol'])).toEqual({ ok: true });
  });

  it('the requester can never approve their own request, even as a lead (approval.self)', () => {
    const bobTheLead = person('bob', ['sre', 'sre-leads']);
    expect(canApprove(policy, 'break-glass', bobTheLead, 'bob', [])).toMatchObject({ ok: false, rule: 'approval.self' });
  });

  it('someone outside the approver groups cannot approve (approval.group)', () => {
    const result = canApprove(policy, 'break-glass', person('erin', ['sre']), 'bob', []);
    expect(result).toMatchObject({ ok: false, rule: 'approval.group' });
    if (!result.ok) expect(result.message).toContain('sre-leads');
  });

  it('the gateway acting for an approver approves only roles that accept the gateway (role.gateway)', () => {
    const carolViaGateway = { ...carol, via: 'gateway' as const, actingFor: 'jitca-ssh-gateway' };
    expect(canApprove(policy, 'break-glass', carolViaGateway, 'bob', ['dave'])).toMatchObject({ ok: false, rule: 'role.gateway' });
    const accepting = policyOf(role({ name: 'reviewed', groups: ['sre'], allowGateway: true, approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 1 } }));
    expect(canApprove(accepting, 'reviewed', carolViaGateway, 'bob', [])).toEqual({ ok: true });
  });

  it('one person cannot count twice (approval.duplicate)', () => {
    expect(canApprove(policy, 'break-glass', carol, 'bob', ['carol'])).toMatchObject({ ok: false, rule: 'approval.duplicate' });
  });

  it('no approvals beyond what the role needs (approval.complete)', () => {
    expect(canApprove(policy, 'jit-debug-payments', person('frank', ['sre-leads']), 'alice', ['carol'])).toMatchObject({
      ok: false,
      rule: 'approval.complete',
    });
  });

  it('an auto role and an unknown role have nothing to approve', () => {
    expect(canApprove(policy, 'oncall-payments', carol, 'alice', [])).toMatchObject({ ok: false, rule: 'approval.not-required' });
    expect(canApprove(policy, 'cluster-admin', carol, 'alice', [])).toMatchObject({ ok: false, rule: 'role.unknown' });
  });
});
