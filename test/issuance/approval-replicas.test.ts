/**
 * Two replicas of the CA on one database, each with its own store connection (as two jitca
 * processes have), deciding the same manual-approval request at the same moment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { approveRequest } from '../../src/issuance/approve-request.ts';
import { issueSshCertificate, type SshIssuanceContext } from '../../src/issuance/issue-ssh-certificate.ts';
import type { Identity } from '../../src/policy/types.ts';
import { openWorkerStore } from '../../src/store/worker-store.ts';
import type { Store } from '../../src/store/types.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const alice: Identity = { subject: 'alice', groups: ['sre'], via: 'oidc' };
const bob: Identity = { subject: 'bob', groups: ['sre-leads'], via: 'oidc' };
const carol: Identity = { subject: 'carol', groups: ['sre-leads'], via: 'oidc' };

let ca: CaFixture;
let key: TempSshKey;
let replicaStore: Store;
let replicaA: SshIssuanceContext;

beforeAll(async () => {
  ca = await createCaFixture();
  key = createTempSshKey();
  replicaA = ca.runtime.sshIssuance;
  replicaStore = await openWorkerStore({ sqlitePath: ca.config.store.sqlitePath });
});

afterAll(async () => {
  await replicaStore?.close();
  key?.cleanup();
  await ca?.cleanup();
});

/**
 * Replica B's store, where the first read of the approvals returns what B read, but only after
 * replica A has recorded `approver`'s approval: B then decides from a state that is already stale.
 */
function overtakenBy(approver: Identity): Store {
  let overtaken = false;
  return {
    ...replicaStore,
    async listApprovals(requestId: string) {
      const seen = await replicaStore.listApprovals(requestId);
      if (!overtaken) {
        overtaken = true;
        await approveRequest(replicaA, approver, requestId, 'approved at replica A');
      }
      return seen;
    },
  };
}

describe('approvals across replicas', () => {
  it('two approvers of a two-approval role at two replicas at once: the request is issued once, with both approvals', async () => {
    const pending = await issueSshCertificate(replicaA, alice, { publicKey: key.publicKey, role: 'break-glass', ttlSeconds: 600, scope: { namespace: 'payments' }, reason: 'INC-7' });
    if (pending.status !== 'pending') throw new Error(`expected a pending request, got ${pending.status}`);
    const replicaB: SshIssuanceContext = { ...replicaA, store: overtakenBy(bob) };

    const result = await approveRequest(replicaB, carol, pending.requestId, 'approved at replica B');

    expect(result.status).toBe('issued');
    const stored = await replicaA.store.getRequest(pending.requestId);
    expect(stored?.state).toBe('issued');
    expect((await replicaA.store.listApprovals(pending.requestId)).map((approval) => approval.approver).sort()).toEqual(['bob', 'carol']);
    const events = (await replicaA.store.listAudit({ limit: 1000 })).filter((record) => record.requestId === pending.requestId);
    // Replica B's first decision (made from the stale "no approvals yet") was refused and wrote nothing.
    expect(events.map((record) => record.type)).toEqual(['request.pending', 'request.approved', 'ssh.issued']);
    expect(events[2]?.data['approvedBy']).toEqual(['bob', 'carol']);
    expect((await replicaA.store.verifyAudit()).ok).toBe(true);
  });

  it('a third approver arriving after the request was issued elsewhere is told it is no longer pending', async () => {
    const pending = await issueSshCertificate(replicaA, alice, { publicKey: key.publicKey, role: 'break-glass', ttlSeconds: 600, scope: { namespace: 'payments' }, reason: 'INC-8' });
    if (pending.status !== 'pending') throw new Error(`expected a pending request, got ${pending.status}`);
    await approveRequest(replicaA, bob, pending.requestId);
    const dave: Identity = { subject: 'dave', groups: ['sre-leads'], via: 'oidc' };
    // B read "bob approved" (one of two); meanwhile carol completes the request at replica A.
    const replicaB: SshIssuanceContext = { ...replicaA, store: overtakenBy(carol) };

    const error = await approveRequest(replicaB, dave, pending.requestId).then(
      () => undefined,
      (caught: unknown) => caught,
    );

    expect(isJitcaError(error, ErrorCodes.REQUEST_NOT_PENDING)).toBe(true);
    const events = (await replicaA.store.listAudit({ limit: 1000 })).filter((record) => record.requestId === pending.requestId);
    expect(events.map((record) => record.type)).toEqual(['request.pending', 'request.approved', 'ssh.issued']);
    expect((await replicaA.store.listApprovals(pending.requestId)).map((approval) => approval.approver).sort()).toEqual(['bob', 'carol']);
  });
});
