/**
 * evaluateX509Request: the pure decision over a request to the X.509 API (POST /v1/x509/certificates,
 * the kubectl credential plugin and the gateway). It is a CSR for jitca's own signer judged by
 * evaluateCsr (the subject is the authenticated person, O values only what a role grants, lifetime
 * capped), and then what only the API has: the gateway rule as for SSH, manual approval (which the
 * API cannot wait for), and the requested scope, checked and resolved here once. The issuance
 * pipeline carries the Decision out (decide, then act: docs/architecture.md); nothing here signs, stores or
 * reads the clock.
 */
import type { ParsedCsr } from '../x509/csr.ts';
import { evaluateCsr, type CsrGrant } from './csr-evaluate.ts';
import { clusterRefusal, resolveScope } from './evaluate.ts';
import { groupsForOperations, kubernetesOperations, type OperationsRefusal } from './operations.ts';
import { findRequestProblem } from './request-shape.ts';
import type { Identity, OperationName, Policy, Scope } from './types.ts';

export interface X509RequestInput {
  /** jitca's own signerName: the API issues as that signer, under the same role rules. */
  signerName: string;
  /** The O values asked for (organizationsAsked). */
  organizations: string[];
  key: Pick<ParsedCsr, 'keyAlgorithm' | 'requestedExtensions'>;
  ttlSeconds?: number;
  scope?: Partial<Scope>;
  /** When the request is made: the role's working hours are judged at this time. */
  at: Date;
}

export type X509Decision =
  | {
      outcome: 'approve';
      rule: 'csr.allowed';
      message: string;
      grant: CsrGrant;
      /** The scope extension to write: only for a request naming a full scope (with a namespace) the role allows. */
      scope?: Scope;
    }
  | { outcome: 'deny'; rule: string; message: string };

/**
 * The O values asked: the groups of the operations named (from the first role open to the person
 * that grants them all on Kubernetes), else the CSR's O values, else the groups of the role that
 * would approve by itself (for a role whose operations name groups: the least operation's).
 */
export function organizationsAsked(
  policy: Policy,
  identity: Identity,
  fromCsr: readonly string[],
  operations?: readonly OperationName[],
): string[] | OperationsRefusal {
  const open = policy.roles.filter((role) => role.kubernetes !== undefined && role.groups.some((group) => identity.groups.includes(group)));
  if (operations !== undefined) {
    // Two sources for the groups would leave one of them silently ignored.
    if (fromCsr.length > 0) return { rule: 'request.invalid', message: 'name either operations or O values in the CSR, not both' };
    const withOperations = open.filter((role) => kubernetesOperations(role) !== undefined);
    let refusal: OperationsRefusal | undefined;
    for (const role of withOperations) {
      const groups = groupsForOperations(role, operations);
      if (Array.isArray(groups)) return groups;
      refusal ??= groups;
    }
    return refusal ?? { rule: 'operations.not-allowed', message: 'no role open to you grants operations on Kubernetes; leave operations out' };
  }
  if (fromCsr.length > 0) return [...fromCsr];
  const role = open.find((candidate) => candidate.approval.mode === 'auto') ?? open[0];
  if (role?.kubernetes === undefined) return [];
  if (kubernetesOperations(role) === undefined) return [...role.kubernetes.groups];
  const least = groupsForOperations(role, undefined);
  return Array.isArray(least) ? least : [];
}

export function evaluateX509Request(policy: Policy, identity: Identity, input: X509RequestInput): X509Decision {
  const decision = evaluateCsr(
    policy,
    {
      username: identity.subject,
      groups: identity.groups,
      signerName: input.signerName,
      expirationSeconds: input.ttlSeconds,
      usages: ['client auth', 'digital signature'],
      csr: {
        subject: { commonName: identity.subject, organizations: input.organizations, other: [] },
        keyAlgorithm: input.key.keyAlgorithm,
        requestedExtensions: input.key.requestedExtensions,
      },
      at: input.at,
    },
    { [input.signerName]: 'sign' },
  );
  if (decision.outcome === 'deny') return deny(decision.rule, decision.message);
  if (decision.outcome === 'ignore') return deny('csr.signer', decision.message);
  const role = policy.roles.find((candidate) => candidate.name === decision.grant.role);
  // The same rule as SSH: a gateway speaks for an engineer only where the role allows it.
  if (identity.via === 'gateway' && role?.allowGateway !== true) {
    return deny('role.gateway', `role ${decision.grant.role} does not accept requests through the gateway`);
  }
  if (decision.outcome === 'pending') {
    return deny(
      decision.rule,
      `role ${decision.grant.role} needs a person's approval for Kubernetes certificates: submit a CertificateSigningRequest for ${input.signerName} instead`,
    );
  }
  const approve = { outcome: 'approve' as const, rule: decision.rule, message: decision.message, grant: decision.grant };
  const asked = input.scope;
  if (asked === undefined || role === undefined) return approve;
  // The same shape rules as an SSH request's scope: a role listing "*" accepts any value, which
  // must still be a cluster, namespace, pod or node name before it goes into the certificate.
  const shapeProblem = findRequestProblem({ scope: asked });
  if (shapeProblem !== undefined) return deny('request.invalid', shapeProblem);
  if (asked.namespace === undefined) {
    // A cluster named alone (the plugin's --cluster) writes no scope, but must be one the role allows.
    const refused = asked.cluster === undefined ? undefined : clusterRefusal(role, asked.cluster);
    return refused === undefined ? approve : deny(refused.rule, refused.message);
  }
  const scope = resolveScope(role, asked, []);
  if ('outcome' in scope) return deny(scope.rule, scope.message);
  return { ...approve, scope };
}

function deny(rule: string, message: string): X509Decision {
  return { outcome: 'deny', rule, message };
}
