/**
 * Checks a request list query before it reaches the database (ERR_REQUEST_INVALID, nothing read):
 * the API has validated what it got from the caller, but the store is also used without the API.
 */
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { RequestListQuery, RequestState } from './types.ts';

/** Largest page a list returns: what one call can make the database read and the reply carry. */
export const MAX_REQUEST_PAGE = 500;

const STATES = new Set<RequestState>(['pending', 'approved', 'issued', 'denied', 'expired']);
// RFC 3339 as Date.prototype.toISOString writes it, which is how every created_at is written.
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MAX_NAME = 4096;

export function checkRequestListQuery(query: RequestListQuery): RequestListQuery {
  if (typeof query !== 'object' || query === null) throw invalid('query', 'must be an object');
  const { states, scope, after, limit } = query;
  if (!Array.isArray(states) || states.length === 0 || !states.every((state) => STATES.has(state))) {
    throw invalid('states', `must name at least one of ${[...STATES].join(', ')}`);
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_REQUEST_PAGE) {
    throw invalid('limit', `must be an integer from 1 to ${MAX_REQUEST_PAGE}`);
  }
  if (typeof scope !== 'object' || scope === null) throw invalid('scope', 'must be an object');
  optionalName(scope.requester, 'scope.requester');
  optionalName(scope.notRequester, 'scope.notRequester');
  names(scope.roles, 'scope.roles');
  if (scope.onlyRoles !== undefined) names(scope.onlyRoles, 'scope.onlyRoles');
  if (after !== undefined) {
    if (typeof after !== 'object' || after === null) throw invalid('after', 'must be an object');
    if (typeof after.createdAt !== 'string' || !ISO_UTC.test(after.createdAt) || Number.isNaN(Date.parse(after.createdAt))) {
      throw invalid('after.createdAt', 'must be a UTC timestamp such as 2025-01-02T03:04:05.000Z');
    }
    optionalName(after.id, 'after.id');
    if (after.id === undefined) throw invalid('after.id', 'is required');
  }
  return query;
}

function names(value: unknown, field: string): void {
  if (!Array.isArray(value)) throw invalid(field, 'must be an array of names');
  for (const name of value) optionalName(name, field);
}

function optionalName(value: unknown, field: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME || !value.isWellFormed()) {
    throw invalid(field, `must be a non-empty string of at most ${MAX_NAME} characters`);
  }
}

function invalid(field: string, problem: string): JitcaError {
  return new JitcaError(ErrorCodes.REQUEST_INVALID, `${field} ${problem}`, { details: { field } });
}
