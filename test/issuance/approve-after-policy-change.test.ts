/**
 * The last approval decides the grant again under the policy in force then (it may have been
 * reloaded since the request). It must decide it for the role the approvers approved, never for
 * another role the requester's groups happen to open under the new policy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { approveRequest } from '../../src/issuance/approve-request.ts';
import { issueSshCertificate, type SshIssuanceContext } from '../../src/issuance/issue-ssh-certificate.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { Identity } from '../../src/policy/types.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const alice: Identity = { subject: 'alice', groups: ['dev'], via: 'oidc' };
const bob: Identity = { subject: 'bob', groups: ['leads'], via: 'oidc' };

function roleDocument(name: string, groups: string[], approverGroups: string[], approvals: 1 | 2, principal: string): Record<string, unknown> {
  return {
    name,
    groups,
    principals: [principal],
    maxTtlSeconds: 600,
    scope: { clusters: ['prod'], namespaces: ['payments'] },
    approval: { mode: 'manual', approverGroups, approvals },
  };
}

function policyText(roles: Record<string, unknown>[]): string {
  return JSON.stringify({ version: 1, extensionDomain: 'jitca.dev', roles });
}

/** When alice asked: only "debug" (one lead approves) is open to her group. */
const before = parsePolicy(policyText([roleDocument('debug', ['dev'], ['leads'], 1, 'debug')]));
/** After a reload: "debug" now belongs to another group; "admin" (two security approvals) is open to hers. */
const after = parsePolicy(
  policyText([roleDocument('debug', ['ops'], ['leads'], 1, 'debug'), roleDocument('admin', ['dev'], ['security'], 2, 'root')]),
);

let ca: CaFixture;
let key: TempSshKey;

beforeAll(async () => {
  ca = await createCaFixture();
  key = createTempSshKey();
});

afterAll(async () => {
  key?.cleanup();
  await ca?.cleanup();
});

describe('the final approval after a policy change', () => {
  it("is decided for the approved role: no certificate for another role that needs other approvers", async () => {
    const asked: SshIssuanceContext = { ...ca.runtime.sshIssuance, policy: before };
    const pending = await issueSshCertificate(asked, alice, { publicKey: key.publicKey, reason: 'INC-9' });
    if (pending.status !== 'pending') throw new Error(`expected a pending request, got ${pending.status}`);

    const now: SshIssuanceContext = { ...ca.runtime.sshIssuance, policy: after };
    let thrown: unknown;
    try {
      await approveRequest(now, bob, pending.requestId, 'looks fine');
    } catch (error) {
      thrown = error;
    }
    expect(isJitcaError(thrown, ErrorCodes.POLICY_DENIED), `expected ERR_POLICY_DENIED, got ${String(thrown)}`).toBe(true);
    expect((thrown as { details?: Record<string, unknown> }).details?.['rule']).toBe('role.groups');
    const stored = await ca.runtime.sshIssuance.store.getRequest(pending.requestId);
    expect(stored?.state).toBe('denied');
    const certificates = (await ca.runtime.sshIssuance.store.listAudit({ limit: 1000 })).filter(
      (record) => record.requestId === pending.requestId && record.type === 'ssh.issued',
    );
    expect(certificates).toEqual([]);
    // The approver's reason is part of the decision it produced, as for any other approval.
    const denied = (await ca.runtime.sshIssuance.store.listAudit({ limit: 1000 })).filter(
      (record) => record.requestId === pending.requestId && record.type === 'request.denied',
    );
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ actor: 'bob', data: { reason: 'looks fine', approvers: ['bob'] } });
  });
});
