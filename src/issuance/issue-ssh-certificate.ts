import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Signer } from '../keys/signer.ts';
import { evaluateSshRequest } from '../policy/evaluate.ts';
import type { Decision, Identity, Policy, SshCertificateRequest, SshGrant } from '../policy/types.ts';
import { buildUserCertificate, type IssuedSshCertificate } from '../ssh/certificate.ts';
import { formatAuthorizedKeysLine, parseSshPublicKey, type SshPublicKey } from '../ssh/public-key.ts';
import type { Store } from '../store/store.ts';
import type { AuditEventInput, RequestInput } from '../store/types.ts';
import { boundedDenialEvent, boundedForDenial } from './denial-record.ts';
import { withEnrollment } from './enrolled-subject-key.ts';
import { newRequestId } from './request-id.ts';
import { issueCertificate, validityWindow, type CertificateTemplate, type SigningCa } from './issuing-core.ts';
import { scopeExtensions } from './scope-extensions.ts';

export interface SshIssuanceContext {
  policy: Policy;
  store: Store;
  /** The SSH user CA generation that signs now, asked for each certificate (a rotation needs no restart). */
  activeSigner: () => Signer;
  clock: Clock;
  /** valid_after backdating, seconds (0..60). */
  backdateSeconds: number;
}

export interface SshIssuanceInput extends SshCertificateRequest {
  /** authorized_keys line or wire blob of the key to certify. */
  publicKey: string | Uint8Array;
}

export type SshIssuanceResult =
  | {
      status: 'issued';
      requestId: string;
      serial: string;
      certificate: string;
      validAfter: Date;
      validBefore: Date;
      grant: SshGrant;
      notes: string[];
    }
  | { status: 'pending'; requestId: string; approval: { approverGroups: string[]; approvals: 1 | 2 }; expiresAt: Date };

/** How long a manual-approval request waits before it expires (issue: default 15 min). */
const PENDING_LIFETIME_MS = 15 * 60 * 1000;

/**
 * The one issuance pipeline (CONTRIBUTING.md, "Decide, then act"): parse -> decide -> (issuing
 * core: sign -> record durably) -> release. Malformed input throws before anything is written.
 * Every policy decision is recorded with its audit record in one durable transaction, and a
 * certificate is returned only after that transaction committed: a certificate never leaves
 * without its audit record.
 */
export async function issueSshCertificate(
  context: SshIssuanceContext,
  identity: Identity,
  input: SshIssuanceInput,
): Promise<SshIssuanceResult> {
  const subjectKey = parseSshPublicKey(input.publicKey);
  const request = requestOf(input);
  const now = context.clock.now();
  const requestId = newRequestId(now);
  const decision = evaluateSshRequest(context.policy, identity, request, await withEnrollment(context.store, context.policy, identity, subjectKey), new Date(now));
  const body = requestBody(request, subjectKey, identity);

  if (decision.outcome === 'deny') {
    // A role that failed the shape check is not a role name: it stays in the (escaped) JSON body and
    // audit data, not in the role column, which PostgreSQL refuses outright when it holds U+0000
    // (SQLSTATE 22021): the denial would be lost and the caller told 503.
    const role = decision.rule === 'request.invalid' ? undefined : request.role;
    // A denial keeps the decision and a bounded copy of what was asked (denial-record.ts): every
    // refused request is written, so what it writes must not grow with what the caller sent.
    await context.store.recordDecision({
      request: requestRow(requestId, identity, role, 'denied', boundedForDenial(body), boundedForDenial(decision), now),
      event: boundedDenialEvent(auditEvent('ssh.denied', identity, requestId, { rule: decision.rule, message: decision.message, ...auditedBody(body) })),
    });
    throw new JitcaError(ErrorCodes.POLICY_DENIED, decision.message, { details: { rule: decision.rule, requestId } });
  }

  if (decision.outcome === 'pending') {
    const expiresAt = new Date(now + PENDING_LIFETIME_MS);
    await context.store.recordDecision({
      request: {
        ...requestRow(requestId, identity, decision.grant.role, 'pending', body, decision, now),
        expiresAt: expiresAt.toISOString(),
      },
      event: auditEvent('request.pending', identity, requestId, { role: decision.grant.role, approval: decision.approval, ...auditedBody(body) }),
    });
    return { status: 'pending', requestId, approval: decision.approval, expiresAt };
  }

  return signAndRecord(context, identity, subjectKey, requestId, decision, body, `auto:${requestId}`);
}

/**
 * Signs a granted certificate and records it. Also the last step of a manual approval, where
 * approvalReference names the approvers.
 */
export async function signAndRecord(
  context: SshIssuanceContext,
  identity: Identity,
  subjectKey: SshPublicKey,
  requestId: string,
  decision: Extract<Decision, { outcome: 'approve' }>,
  body: Record<string, unknown>,
  approvalReference: string,
  /** approverGroups: who could approve it, kept in the row's decision (notifications route by it). */
  finalApproval?: { approver: Identity; approvers: string[]; requestVersion: number; reason?: string; approverGroups?: string[] },
): Promise<Extract<SshIssuanceResult, { status: 'issued' }>> {
  const { grant } = decision;
  const now = context.clock.now();
  const { notBefore: validAfter, notAfter: validBefore } = validityWindow(now, context.backdateSeconds, grant.ttlSeconds);
  const validity = { validAfter: validAfter.toISOString(), validBefore: validBefore.toISOString() };
  const keyId = `${identity.subject}/${requestId}`;
  const customExtensions = scopeExtensions(grant, context.policy.extensionDomain, approvalReference);

  const template: CertificateTemplate<SigningCa, IssuedSshCertificate> = {
    sign: (ca, serial) =>
      buildUserCertificate(
        {
          subject: subjectKey,
          serial,
          keyId,
          principals: grant.principals,
          validAfter: BigInt(validAfter.getTime() / 1000),
          validBefore: BigInt(validBefore.getTime() / 1000),
          criticalOptions: {
            forceCommand: grant.forceCommand,
            sourceAddresses: grant.sourceAddresses,
            verifyRequired: grant.verifyRequired || undefined,
          },
          extensions: grant.extensions,
          customExtensions,
        },
        ca.signer,
      ),
    record: (certificate, serial, ca) => ({
      request: {
        ...requestRow(
          requestId,
          identity,
          grant.role,
          'issued',
          body,
          { ...decision, serial, ...(finalApproval?.approverGroups === undefined ? {} : { approverGroups: finalApproval.approverGroups }) },
          now,
        ),
        expectedVersion: finalApproval?.requestVersion,
      },
      approval: finalApproval === undefined ? undefined : { approver: finalApproval.approver.subject, reason: finalApproval.reason },
      certificate: {
        serial,
        kind: 'ssh-user',
        identity: identity.subject,
        keyId,
        keyFingerprint: subjectKey.fingerprint,
        principals: grant.principals,
        // The operations ride along so the active-credentials gauge can count by operation.
        scope: { ...grant.scope, commands: grant.commands, forceCommand: grant.forceCommand, ...(grant.operations === undefined ? {} : { operations: grant.operations }) },
        ...validity,
        caKeyId: ca.signer.keyId,
        requestId,
        certificate: certificate.line,
      },
      event: auditEvent('ssh.issued', identity, requestId, {
        serial,
        role: grant.role,
        principals: grant.principals,
        scope: grant.scope,
        commands: grant.commands,
        operations: grant.operations,
        forceCommand: grant.forceCommand,
        sourceAddresses: grant.sourceAddresses,
        ttlSeconds: grant.ttlSeconds,
        keyFingerprint: subjectKey.fingerprint,
        caKeyId: ca.signer.keyId,
        ...validity,
        notes: decision.notes,
        approvedBy: finalApproval?.approvers,
        // The last approval has no request.approved record of its own (it is this decision): who
        // gave it, through what, and why, are kept here or nowhere.
        finalApproval: finalApproval === undefined ? undefined : approvalAudit(finalApproval.approver, finalApproval.reason),
      }),
    }),
  };
  const issued = await issueCertificate(context.store, () => ({ signer: context.activeSigner() }), template);
  return {
    status: 'issued',
    requestId,
    serial: issued.serial,
    certificate: issued.signed.line,
    validAfter,
    validBefore,
    grant,
    notes: decision.notes,
  };
}

function requestOf(input: SshIssuanceInput): SshCertificateRequest {
  const { publicKey: _publicKey, ...request } = input;
  return request;
}

/**
 * What the request asked, as stored: the public key (not secret; a manual approval signs it later)
 * and the authenticated identity it was asked under, so the final approval re-evaluates policy for
 * the same person and groups.
 */
function requestBody(request: SshCertificateRequest, key: SshPublicKey, identity: Identity): Record<string, unknown> {
  return {
    ...request,
    publicKey: formatAuthorizedKeysLine(key),
    keyType: key.type,
    keyFingerprint: key.fingerprint,
    identity: { subject: identity.subject, groups: identity.groups, via: identity.via, actingFor: identity.actingFor },
  };
}

/** The audited view of a request: the fingerprint identifies the key; the key line stays in the row. */
function auditedBody(body: Record<string, unknown>): Record<string, unknown> {
  const { publicKey: _publicKey, identity: _identity, ...rest } = body;
  return rest;
}

export function requestRow(
  id: string,
  identity: Identity,
  role: string | undefined,
  state: RequestInput['state'],
  body: Record<string, unknown>,
  decision: Decision | Record<string, unknown>,
  now: number,
): RequestInput {
  return {
    id,
    kind: 'ssh-user',
    requester: identity.subject,
    role,
    state,
    body,
    decision: decision as unknown as Record<string, unknown>,
    createdAt: new Date(now).toISOString(),
  };
}

/** The audited view of an approval that is part of another decision: the approver and their reason. */
function approvalAudit(approver: Identity, reason: string | undefined): Record<string, unknown> {
  return { approver: approver.subject, via: approver.via, actingFor: approver.actingFor, groups: approver.groups, reason };
}

export function auditEvent(
  type: AuditEventInput['type'],
  identity: Identity,
  requestId: string,
  data: Record<string, unknown>,
): AuditEventInput {
  return {
    type,
    actor: identity.actingFor ?? identity.subject,
    subject: identity.subject,
    requestId,
    data: { via: identity.via, groups: identity.groups, ...data },
  };
}
