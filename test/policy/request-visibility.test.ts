import { describe, expect, it } from 'vitest';
import { inRequestScope, requestAccess, requestScope, rolesApprovedBy, type RequestView } from '../../src/policy/request-visibility.ts';
import { person, policyOf, role } from './policy-fixtures.ts';

const policy = policyOf(
  role({ name: 'auto', groups: ['dev'] }),
  role({ name: 'glass', groups: ['sre'], approval: { mode: 'manual', approverGroups: ['leads'], approvals: 2 } }),
  role({ name: 'reviewed', groups: ['sre'], approval: { mode: 'manual', approverGroups: ['leads', 'oncall'], approvals: 1 }, allowGateway: true }),
);

const people = [
  person('dave', ['sre']),
  person('bob', ['leads']),
  person('olga', ['oncall', 'sre']),
  person('mallory', ['dev']),
  person('bob', ['leads'], 'gateway'),
  person('dave', ['sre'], 'gateway'),
];
const requests = ['dave', 'olga', 'mallory', 'bob'].flatMap((requester) =>
  [undefined, 'auto', 'glass', 'reviewed', 'gone'].map((roleName) => ({ requester, ...(roleName === undefined ? {} : { role: roleName }) })),
);

describe('who may see a request', () => {
  it('approvers approve the manual roles naming one of their groups', () => {
    expect(rolesApprovedBy(policy, person('bob', ['leads']))).toEqual(['glass', 'reviewed']);
    expect(rolesApprovedBy(policy, person('olga', ['oncall']))).toEqual(['reviewed']);
    expect(rolesApprovedBy(policy, person('mallory', ['dev']))).toEqual([]);
  });

  it('one request: the requester and the role approvers, hidden from everyone else; the gateway only for roles that accept it', () => {
    for (const identity of people) {
      for (const request of requests) {
        const approves = request.role !== undefined && rolesApprovedBy(policy, identity).includes(request.role);
        const sees = request.requester === identity.subject || approves;
        const access = requestAccess(policy, identity, request);
        const label = `${identity.subject}/${identity.via} on ${JSON.stringify(request)}`;
        if (!sees) expect(access, label).toEqual({ ok: false, hidden: true });
        else if (identity.via === 'gateway' && request.role !== 'reviewed') expect(access, label).toMatchObject({ ok: false, hidden: false, rule: 'role.gateway' });
        else expect(access, label).toEqual({ ok: true });
      }
    }
  });

  it('the list holds exactly the requests the single view shows, and mine / to-approve narrow it', () => {
    for (const identity of people) {
      const all = requestScope(policy, identity, 'all');
      for (const request of requests) {
        const label = `${identity.subject}/${identity.via} on ${JSON.stringify(request)}`;
        expect(inRequestScope(all, request), label).toBe(requestAccess(policy, identity, request).ok);
        const views: Record<RequestView, boolean> = {
          all: requestAccess(policy, identity, request).ok,
          mine: requestAccess(policy, identity, request).ok && request.requester === identity.subject,
          'to-approve': requestAccess(policy, identity, request).ok && request.requester !== identity.subject,
        };
        for (const view of ['mine', 'to-approve'] as const) {
          expect(inRequestScope(requestScope(policy, identity, view), request), `${view}: ${label}`).toBe(views[view]);
        }
      }
    }
  });
});
