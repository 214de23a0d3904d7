import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/load.ts';
import { actionsOn, workingHoursState } from '../../src/policy/request-actions.ts';
import { consolePolicy } from '../support/approval-console.ts';
import { person } from './policy-fixtures.ts';

/** What the console offers: the rules approve and deny apply (approval.ts), asked of one pending request. */
describe('actionsOn and workingHoursState', () => {
  const policy = parsePolicy(JSON.stringify(consolePolicy));
  const exec = { role: 'payments-debug', requester: 'alice', needed: { approverGroups: ['sre-leads'], approvals: 1 as const }, priorApprovers: [] };
  const debug = { ...exec, needed: { approverGroups: ['sre-leads'], approvals: 2 as const } };

  it('offers approval to an approver of what the request needs, once, and never to its requester', () => {
    expect(actionsOn(policy, person('bob', ['sre-leads']), exec)).toEqual({ approve: true, deny: true });
    expect(actionsOn(policy, person('alice', ['oncall-payments', 'sre-leads']), exec)).toEqual({ approve: false, deny: true });
    expect(actionsOn(policy, person('bob', ['sre-leads']), { ...debug, priorApprovers: ['bob'] })).toEqual({ approve: false, deny: true });
    expect(actionsOn(policy, person('carol', ['sre-leads']), { ...debug, priorApprovers: ['bob'] })).toEqual({ approve: true, deny: true });
  });

  it('lets an approver of another operation of the role deny but not approve, and an outsider neither', () => {
    expect(actionsOn(policy, person('dave', ['sre']), exec)).toEqual({ approve: false, deny: true });
    expect(actionsOn(policy, person('mallory', ['interns']), exec)).toEqual({ approve: false, deny: false });
    const { role: _role, ...roleless } = exec;
    expect(actionsOn(policy, person('bob', ['sre-leads']), roleless)).toEqual({ approve: false, deny: false });
    expect(actionsOn(policy, person('alice', []), roleless)).toEqual({ approve: false, deny: true });
  });

  it("judges working hours by the role's window at the request's creation", () => {
    expect(workingHoursState(policy, 'payments-debug', new Date('2030-01-02T17:59:00Z'))).toBe('inside');
    expect(workingHoursState(policy, 'payments-debug', new Date('2030-01-02T18:00:00Z'))).toBe('outside');
    expect(workingHoursState(policy, 'payments-debug', new Date('2030-01-05T10:00:00Z'))).toBe('outside');
    expect(workingHoursState(policy, 'no-such-role', new Date('2030-01-02T10:00:00Z'))).toBeUndefined();
  });
});
