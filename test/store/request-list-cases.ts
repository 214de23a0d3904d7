/**
 * What Store.listRequests must answer, written once and run against every store implementation
 * (request-list.test.ts for SQLite, postgres-store.test.ts for PostgreSQL).
 */
import { expect } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import type { RequestListQuery, RequestListScope, RequestState, Store, StoredRequest } from '../../src/store/types.ts';

const T0 = Date.parse('2025-03-01T12:00:00.000Z');

interface Seeded {
  id: string;
  requester: string;
  role: string;
  state: RequestState;
  createdAt: string;
}

/**
 * 30 requests from three people over three roles and three states, created in groups of three
 * that share a created_at (a batch shares a clock reading), so only the id breaks the tie.
 */
export async function seedRequests(store: Store): Promise<Seeded[]> {
  const people = ['alice', 'dave', 'erin'];
  const roles = ['break-glass', 'oncall-payments', 'db-admin'];
  const states: RequestState[] = ['pending', 'issued', 'denied'];
  const seeded: Seeded[] = [];
  for (let i = 0; i < 30; i++) {
    const request: Seeded = {
      id: `req_${i.toString(16).padStart(32, '0')}`,
      requester: people[i % 3]!,
      role: roles[Math.floor(i / 3) % 3]!,
      state: states[(i >> 1) % 3]!,
      createdAt: new Date(T0 + Math.floor(i / 3) * 1000).toISOString(),
    };
    seeded.push(request);
  }
  // Written in an order unrelated to the list's, so the order comes from the query.
  for (const request of [...seeded].reverse()) {
    await store.recordDecision({
      request: { id: request.id, kind: 'ssh-user', requester: request.requester, role: request.role, state: request.state, body: { reason: 'INC-1' }, decision: {}, createdAt: request.createdAt },
      ...(request.state === 'pending' ? { approval: { approver: 'bob', reason: `seen ${request.id}` } } : {}),
      event: { type: request.state === 'pending' ? 'request.pending' : 'request.denied', actor: request.requester, data: {} },
    });
  }
  return seeded;
}

async function allPages(store: Store, query: Omit<RequestListQuery, 'after'>): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let after: RequestListQuery['after'];
  for (let pages = 1; pages <= 100; pages++) {
    const page: StoredRequest[] = await store.listRequests({ ...query, ...(after === undefined ? {} : { after }) });
    ids.push(...page.map((request) => request.id));
    const last = page.at(-1);
    if (page.length < query.limit || last === undefined) return { ids, pages };
    after = { createdAt: last.createdAt, id: last.id };
  }
  throw new Error('more than 100 pages');
}

function newestFirst(requests: Seeded[]): string[] {
  return [...requests].sort((a, b) => (a.createdAt === b.createdAt ? b.id.localeCompare(a.id) : b.createdAt.localeCompare(a.createdAt))).map((r) => r.id);
}

function matches(scope: RequestListScope, request: Seeded): boolean {
  const whose = request.requester === scope.requester || scope.roles.includes(request.role);
  return whose && request.requester !== scope.notRequester && (scope.onlyRoles === undefined || scope.onlyRoles.includes(request.role));
}

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (isJitcaError(error) ? error.code : error),
  );
}

export async function checkRequestList(store: Store): Promise<void> {
  const seeded = await seedRequests(store);
  const every: RequestState[] = ['pending', 'approved', 'issued', 'denied', 'expired'];
  const scopes: RequestListScope[] = [
    { requester: 'alice', roles: [] },
    { roles: ['break-glass'] },
    { requester: 'dave', roles: ['break-glass', 'db-admin'] },
    { requester: 'dave', roles: ['break-glass'], notRequester: 'dave' },
    { requester: 'alice', roles: ['break-glass', 'db-admin'], onlyRoles: ['db-admin', 'oncall-payments'] },
    { roles: ['no-such-role'] },
    { requester: 'alice', roles: ['break-glass'], onlyRoles: [] },
  ];
  for (const scope of scopes) {
    for (const states of [every, ['pending'] as RequestState[], ['issued', 'denied'] as RequestState[]]) {
      const expected = newestFirst(seeded.filter((request) => states.includes(request.state) && matches(scope, request)));
      // Page sizes that divide the result, that do not, and that split a created_at tie.
      for (const limit of [1, 2, 4, 7, 500]) {
        const { ids } = await allPages(store, { states, scope, limit });
        expect(ids, `${JSON.stringify(scope)} ${states.join(',')} by ${limit}`).toEqual(expected);
      }
    }
  }

  // A request written after the first page was read lands before the position: the next page
  // neither repeats nor skips.
  const first = await store.listRequests({ states: every, scope: { roles: ['break-glass'] }, limit: 3 });
  await store.recordDecision({
    request: { id: `req_${'f'.repeat(32)}`, kind: 'ssh-user', requester: 'zed', role: 'break-glass', state: 'pending', body: {}, decision: {}, createdAt: new Date(T0 + 99_000).toISOString() },
    event: { type: 'request.pending', actor: 'zed', data: {} },
  });
  const last = first.at(-1)!;
  const rest = (await allPages(store, { states: every, scope: { roles: ['break-glass'] }, limit: 3 })).ids;
  const second = await store.listRequests({ states: every, scope: { roles: ['break-glass'] }, after: { createdAt: last.createdAt, id: last.id }, limit: 500 });
  expect([...first, ...second].map((r) => r.id)).toEqual(rest.slice(1));

  // Each row is the whole stored request.
  const one = seeded.find((request) => request.state === 'pending')!;
  const [listed] = (await store.listRequests({ states: ['pending'], scope: { requester: one.requester, roles: [] }, after: undefined, limit: 500 })).filter((r) => r.id === one.id);
  expect(listed).toEqual(await store.getRequest(one.id));
  expect(await store.listApprovals(one.id)).toEqual([expect.objectContaining({ approver: 'bob', reason: `seen ${one.id}` })]);

  const ok: RequestListQuery = { states: ['pending'], scope: { roles: ['break-glass'] }, limit: 10 };
  const refused: unknown[] = [
    { ...ok, states: [] },
    { ...ok, states: ['pending', 'lost'] },
    { ...ok, limit: 0 },
    { ...ok, limit: 501 },
    { ...ok, limit: 1.5 },
    { ...ok, after: { createdAt: 'yesterday', id: 'req_1' } },
    { ...ok, after: { createdAt: '2025-03-01T12:00:00.000Z' } },
    { ...ok, scope: { roles: 'break-glass' } },
    { ...ok, scope: { roles: [], requester: '' } },
  ];
  for (const query of refused) expect(await codeOf(store.listRequests(query as RequestListQuery)), JSON.stringify(query)).toBe(ErrorCodes.REQUEST_INVALID);
}
