/**
 * evaluateGatewayKubeCredential: one approval, both credentials (issue 18). The SSH gateway, as
 * itself, presents an engineer's SSH certificate; the Kubernetes client certificate it may get for
 * that engineer is decided here, purely, from what the CA recorded of that SSH certificate. The
 * caller gathers the facts (the stored row whose bytes equal the presented ones, its revocation,
 * the requester's groups when they asked); nothing here reads the store or the clock.
 *
 * No second approval: the SSH request's approval (automatic or by people) already covered these
 * operations, and the Kubernetes groups are those same operations' groups, so their approval rule
 * is the one the SSH request met. What the Kubernetes certificate may say is never more than the
 * SSH certificate: its person, its scope, its operations' groups, and a lifetime that ends no later
 * than the SSH certificate's valid_before. Asking twice with the same certificate gets the same.
 */
import type { ParsedCsr } from '../x509/csr.ts';
import { evaluateCsr, type CsrGrant } from './csr-evaluate.ts';
import { resolveScope } from './evaluate.ts';
import { groupsForOperations, kubernetesOperations } from './operations.ts';
import type { OperationName, Policy, Scope } from './types.ts';

/** The SSH certificate as the CA issued it, found by serial and byte-equal to the one presented. */
export interface IssuedSshCertificateFacts {
  serial: string;
  /** The person it was issued to. */
  subject: string;
  /** Their groups as authenticated when they asked (the stored request). */
  groups: string[];
  /** From the certificate's role@, scope-*@, operations@ and approval@ extensions. */
  role: string;
  scope: Scope;
  operations?: OperationName[];
  approvalReference: string;
  validAfter: Date;
  validBefore: Date;
  revoked: boolean;
}

export interface GatewayKubeCredentialInput {
  /** undefined: no certificate this CA issued has the presented bytes (foreign, altered or unknown). */
  issued: IssuedSshCertificateFacts | undefined;
  signerName: string;
  key: Pick<ParsedCsr, 'keyAlgorithm' | 'requestedExtensions'>;
  now: Date;
}

export type GatewayKubeCredentialRule =
  | 'ssh-cert.unknown'
  | 'ssh-cert.revoked'
  | 'ssh-cert.not-yet-valid'
  | 'ssh-cert.expired'
  | 'role.gateway';

export type GatewayKubeCredentialDecision =
  | {
      outcome: 'approve';
      rule: 'gateway.one-approval';
      message: string;
      /** Lifetime already cut to the SSH certificate's remaining validity (capped says so). */
      grant: CsrGrant;
      /** The SSH certificate's own scope and approval, written into the Kubernetes certificate. */
      scope: Scope;
      approvalReference: string;
    }
  | { outcome: 'deny'; rule: GatewayKubeCredentialRule | string; message: string };

export function evaluateGatewayKubeCredential(policy: Policy, input: GatewayKubeCredentialInput): GatewayKubeCredentialDecision {
  const issued = input.issued;
  if (issued === undefined) {
    return deny('ssh-cert.unknown', 'the SSH certificate is not one this CA issued (no certificate with these exact bytes is recorded)');
  }
  if (issued.revoked) return deny('ssh-cert.revoked', `SSH certificate ${issued.serial} is revoked`);
  const nowMs = input.now.getTime();
  if (nowMs < issued.validAfter.getTime()) return deny('ssh-cert.not-yet-valid', `SSH certificate ${issued.serial} is not valid yet`);
  // Whole seconds left, counted as the issuing core counts notAfter (from the current second), so
  // notAfter lands on valid_before at most; a certificate with less than one has nothing to lend.
  const remainingSeconds = Math.floor(issued.validBefore.getTime() / 1000) - Math.floor(nowMs / 1000);
  if (remainingSeconds < 1) return deny('ssh-cert.expired', `SSH certificate ${issued.serial} has expired`);

  const role = policy.roles.find((candidate) => candidate.name === issued.role);
  if (role?.allowGateway !== true) {
    return deny(
      'role.gateway',
      role === undefined
        ? `role ${issued.role} is no longer in the policy; the gateway gets no Kubernetes credential for it`
        : `role ${role.name} does not accept the SSH gateway`,
    );
  }
  // The policy may have narrowed since the SSH certificate was issued: its scope must still be the role's.
  const scope = resolveScope(role, issued.scope, []);
  if ('outcome' in scope) return deny(scope.rule, scope.message);

  const organizations = kubernetesOperations(role) === undefined ? [...(role.kubernetes?.groups ?? [])] : groupsForOperations(role, issued.operations);
  if (!Array.isArray(organizations)) return deny(organizations.rule, organizations.message);
  // The same CSR rules as every Kubernetes certificate, judged against this role alone: the person
  // must still be in it, the groups its, the key acceptable, the lifetime within its maximum.
  const decision = evaluateCsr(
    { ...policy, roles: [role] },
    {
      username: issued.subject,
      groups: issued.groups,
      signerName: input.signerName,
      usages: ['client auth', 'digital signature'],
      csr: { subject: { commonName: issued.subject, organizations, other: [] }, keyAlgorithm: input.key.keyAlgorithm, requestedExtensions: input.key.requestedExtensions },
      approvalGiven: true,
    },
    { [input.signerName]: 'sign' },
  );
  if (decision.outcome === 'deny') return deny(decision.rule, decision.message);
  if (decision.outcome === 'ignore') return deny('csr.signer', decision.message);
  // 'pending' is not a refusal here: the manual approval it asks for is the SSH request's, given.
  const expirationSeconds = Math.min(decision.grant.expirationSeconds, remainingSeconds);
  const grant: CsrGrant = { ...decision.grant, expirationSeconds, capped: true };
  return {
    outcome: 'approve',
    rule: 'gateway.one-approval',
    message: `the approval of SSH certificate ${issued.serial} (${issued.approvalReference}) covers a Kubernetes certificate of role ${role.name} for ${expirationSeconds} s`,
    grant,
    scope: { ...issued.scope },
    approvalReference: issued.approvalReference,
  };
}

function deny(rule: string, message: string): GatewayKubeCredentialDecision {
  return { outcome: 'deny', rule, message };
}
