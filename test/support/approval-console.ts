/**
 * What the approval console's tests share: a role with the operation matrix and working
 * hours whose approvers differ by operation, so someone can see a request (an approver of the
 * role) that they may not approve (not an approver of what it asks for).
 */
export const CONSOLE_CLIENT_ID = 'jitca-console';

const leads = (approvals: 1 | 2) => ({ mode: 'manual', approverGroups: ['sre-leads'], approvals });

export const consolePolicy = {
  version: 1,
  extensionDomain: 'jitca.dev',
  roles: [
    {
      name: 'payments-debug',
      groups: ['oncall-payments'],
      principals: ['oncall-payments'],
      maxTtlSeconds: 3600,
      scope: { clusters: ['prod'], namespaces: ['payments'] },
      approval: { mode: 'auto' },
      operations: [
        { name: 'view-logs', approval: { mode: 'auto' }, maxTtlSeconds: 1800 },
        { name: 'exec', approval: leads(1), maxTtlSeconds: 1800 },
        { name: 'debug', approval: leads(2), maxTtlSeconds: 900 },
        // dave (sre) approves port-forward only, so he sees exec requests he cannot approve.
        { name: 'port-forward', approval: { mode: 'manual', approverGroups: ['sre'], approvals: 1 }, maxTtlSeconds: 3600 },
      ],
      workingHours: {
        days: ['mon', 'tue', 'wed', 'thu', 'fri'],
        start: '09:00',
        end: '18:00',
        timeZone: 'UTC',
        onCallGroups: ['oncall'],
        outsideApproval: { approverGroups: ['sre-leads'], approvals: 1 },
      },
    },
  ],
};

/** A Wednesday, 10:00 UTC: inside the role's working hours. */
export const WEDNESDAY_MORNING = Date.parse('2030-01-02T10:00:00Z');
/** A Saturday: outside them. */
export const SATURDAY_MORNING = Date.parse('2030-01-05T10:00:00Z');
