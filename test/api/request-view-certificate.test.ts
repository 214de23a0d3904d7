import { describe, expect, it } from 'vitest';
import { requestView } from '../../src/api/request-view.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { StoredCertificate, StoredRequest } from '../../src/store/types.ts';
import { consolePolicy } from '../support/approval-console.ts';
import { issuedEntry } from '../store/store-fixtures.ts';

/** The certificate part of a request's view as a pure rule: valid, expired or revoked at the CA's clock. */
describe("an issued request's certificate in its view", () => {
  const entry = issuedEntry('req-view', '4242');
  const stored: StoredRequest = { ...entry.request, decision: { ...entry.request.decision, serial: '4242' }, updatedAt: '2025-03-01T12:00:05.000Z', version: 1 };
  const certificate = { ...entry.certificate, createdAt: '2025-03-01T12:00:05.000Z' } as StoredCertificate;
  const revocation = { serial: '4242', caKeyId: 'ssh-user-ca/1', validBefore: certificate.validBefore, revokedAt: '2025-03-01T12:10:00.000Z', revokedBy: 'alice@example.com', reason: 'laptop lost' };
  const policy = parsePolicy(JSON.stringify(consolePolicy));
  const viewAt = (iso: string, issued: Parameters<typeof requestView>[2]['issued']) =>
    requestView(stored, [], { policy, identity: { subject: 'alice@example.com', groups: [], via: 'oidc' }, now: new Date(iso), ...(issued === undefined ? {} : { issued }) }).certificate;

  it('is valid until its validBefore, expired from it on, and revoked (when, by whom, why) whether or not it has expired since', () => {
    const facts = { serial: '4242', validAfter: '2025-03-01T11:59:00.000Z', validBefore: '2025-03-01T12:30:00.000Z' };
    expect(viewAt('2025-03-01T12:29:59.999Z', { certificate })).toEqual({ ...facts, state: 'valid' });
    expect(viewAt('2025-03-01T12:30:00.000Z', { certificate })).toEqual({ ...facts, state: 'expired' });
    const revoked = { ...facts, state: 'revoked', revoked: { at: '2025-03-01T12:10:00.000Z', by: 'alice@example.com', reason: 'laptop lost' } };
    expect(viewAt('2025-03-01T12:20:00.000Z', { certificate, revocation })).toEqual(revoked);
    expect(viewAt('2025-03-02T00:00:00.000Z', { certificate, revocation })).toEqual(revoked);
    expect(viewAt('2025-03-01T12:20:00.000Z', undefined)).toBeUndefined();
  });
});
