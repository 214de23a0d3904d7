import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { evaluateCsr, type CsrDecision } from '../policy/csr-evaluate.ts';
import { clusterRefusal, resolveScope } from '../policy/evaluate.ts';
import { findRequestProblem } from '../policy/request-shape.ts';
import type { Identity, Policy, Scope } from '../policy/types.ts';
import type { Store } from '../store/types.ts';
import { parseCsr } from '../x509/csr.ts';
import { issueClientCertificate } from '../x509/issue-client-certificate.ts';
import { boundedDenialEvent, boundedForDenial } from './denial-record.ts';
import { auditEvent } from './issue-ssh-certificate.ts';
import type { KubeClientCa } from './kube-client-ca.ts';
import { newRequestId } from './request-id.ts';
import { randomSerial } from './serial.ts';

export interface X509IssuanceContext {
  policy: Policy;
  store: Store;
  kubeCa: KubeClientCa;
  clock: Clock;
  /** jitca's own signerName: the API issues as that signer, under the same role rules. */
  signerName: string;
  backdateSeconds: number;
}

export interface X509IssuanceInput {
  /** PEM PKCS#10 request; only its key is used. */
  csr: string;
  ttlSeconds?: number;
  scope?: Partial<Scope>;
}

export interface X509IssuanceResult {
  requestId: string;
  serial: string;
  certificate: string;
  notBefore: Date;
  notAfter: Date;
  organizations: string[];
  role: string;
}

const SERIAL_ATTEMPTS = 4;

/**
 * Kubernetes client certificates for engineers who do not go through the cluster's CSR API (the
 * kubectl credential plugin, the gateway). Same rules as the CSR controller (evaluateCsr): the
 * subject is the authenticated person, O values only what a role grants them, lifetime capped.
 * The CSR proves possession of the key; its subject is ignored except for the O values it asks.
 */
export async function issueX509ClientCertificate(
  context: X509IssuanceContext,
  identity: Identity,
  input: X509IssuanceInput,
): Promise<X509IssuanceResult> {
  const csr = parseCsr(input.csr);
  const requestId = newRequestId();
  const asked = csr.subject.organizations.length > 0 ? csr.subject.organizations : defaultGroups(context.policy, identity);
  const decision = evaluateCsr(
    context.policy,
    {
      username: identity.subject,
      groups: identity.groups,
      signerName: context.signerName,
      expirationSeconds: input.ttlSeconds,
      usages: ['client auth', 'digital signature'],
      csr: { subject: { commonName: identity.subject, organizations: asked, other: [] }, keyAlgorithm: csr.keyAlgorithm, requestedExtensions: csr.requestedExtensions },
    },
    { [context.signerName]: 'sign' },
  );
  const now = context.clock.now();
  const body = { ttlSeconds: input.ttlSeconds, scope: input.scope, organizations: asked, keyAlgorithm: csr.keyAlgorithm };
  const refusal = refusalOf(context, identity, decision, input.scope);
  if (refusal !== undefined) {
    await context.store.recordDecision({
      request: { id: requestId, kind: 'x509-client', requester: identity.subject, state: 'denied', body: boundedForDenial(body), decision: boundedForDenial(refusal), createdAt: new Date(now).toISOString() },
      event: boundedDenialEvent(auditEvent('x509.denied', identity, requestId, { rule: refusal.rule, message: refusal.message, organizations: asked })),
    });
    throw new JitcaError(ErrorCodes.POLICY_DENIED, refusal.message, { details: { rule: refusal.rule, requestId } });
  }
  const grant = (decision as Extract<CsrDecision, { outcome: 'approve' }>).grant;
  const scope = scopeOf(context.policy, grant.role, input.scope);
  const notBefore = new Date(now - context.backdateSeconds * 1000);
  const notAfter = new Date(now + grant.expirationSeconds * 1000);

  for (let attempt = 1; ; attempt++) {
    const serial = randomSerial();
    const { pem } = await issueClientCertificate({
      csr,
      subject: { commonName: identity.subject, organizations: grant.organizations },
      serial,
      notBefore,
      notAfter,
      scope: scope === undefined ? undefined : { ...scope, approvalReference: `auto:${requestId}` },
      ca: { signer: context.kubeCa.signer, certificate: context.kubeCa.certificate },
    });
    try {
      await context.store.recordDecision({
        request: {
          id: requestId,
          kind: 'x509-client',
          requester: identity.subject,
          role: grant.role,
          state: 'issued',
          body,
          decision: { ...decision, serial: serial.toString() },
          createdAt: new Date(now).toISOString(),
        },
        certificate: {
          serial: serial.toString(),
          kind: 'x509-client',
          identity: identity.subject,
          keyId: `CN=${identity.subject}`,
          keyFingerprint: `SHA256:${createHash('sha256').update(csr.spki).digest('base64').replace(/=+$/, '')}`,
          principals: grant.organizations,
          scope: scope === undefined ? {} : { ...scope },
          validAfter: notBefore.toISOString(),
          validBefore: notAfter.toISOString(),
          caKeyId: context.kubeCa.signer.keyId,
          requestId,
          certificate: pem,
        },
        event: auditEvent('x509.issued', identity, requestId, {
          serial: serial.toString(),
          role: grant.role,
          organizations: grant.organizations,
          expirationSeconds: grant.expirationSeconds,
          capped: grant.capped,
          scope,
          caKeyId: context.kubeCa.signer.keyId,
          notAfter: notAfter.toISOString(),
        }),
      });
    } catch (error) {
      if (isJitcaError(error, ErrorCodes.STORE_CONFLICT) && attempt < SERIAL_ATTEMPTS) continue;
      throw error;
    }
    return { requestId, serial: serial.toString(), certificate: pem, notBefore, notAfter, organizations: grant.organizations, role: grant.role };
  }
}

/** Without O values in the CSR: the groups of the role that would approve by itself. */
function defaultGroups(policy: Policy, identity: Identity): string[] {
  const open = policy.roles.filter((role) => role.kubernetes !== undefined && role.groups.some((group) => identity.groups.includes(group)));
  const role = open.find((candidate) => candidate.approval.mode === 'auto') ?? open[0];
  return role?.kubernetes === undefined ? [] : [...role.kubernetes.groups];
}

function refusalOf(
  context: X509IssuanceContext,
  identity: Identity,
  decision: CsrDecision,
  scope: Partial<Scope> | undefined,
): { rule: string; message: string } | undefined {
  if (decision.outcome === 'deny') return { rule: decision.rule, message: decision.message };
  if (decision.outcome === 'ignore') return { rule: 'csr.signer', message: decision.message };
  const grantedRole = context.policy.roles.find((candidate) => candidate.name === decision.grant.role);
  // The same rule as SSH: a gateway speaks for an engineer only where the role allows it.
  if (identity.via === 'gateway' && grantedRole?.allowGateway !== true) {
    return { rule: 'role.gateway', message: `role ${decision.grant.role} does not accept requests through the gateway` };
  }
  if (decision.outcome === 'pending') {
    return {
      rule: decision.rule,
      message: `role ${decision.grant.role} needs a person's approval for Kubernetes certificates: submit a CertificateSigningRequest for ${context.signerName} instead`,
    };
  }
  if (scope === undefined || grantedRole === undefined) return undefined;
  // The same shape rules as an SSH request's scope: a role listing "*" accepts any value, which
  // must still be a cluster, namespace, pod or node name before it goes into the certificate.
  const shapeProblem = findRequestProblem({ scope });
  if (shapeProblem !== undefined) return { rule: 'request.invalid', message: shapeProblem };
  if (scope.namespace === undefined) {
    const refused = scope.cluster === undefined ? undefined : clusterRefusal(grantedRole, scope.cluster);
    return refused === undefined ? undefined : { rule: refused.rule, message: refused.message };
  }
  const resolved = resolveScope(grantedRole, scope, []);
  if (resolved !== undefined && 'outcome' in resolved) return { rule: resolved.rule, message: resolved.message };
  return undefined;
}

/** The scope extension is written only when the request names a full scope (with a namespace) the role allows. */
function scopeOf(policy: Policy, roleName: string, asked: Partial<Scope> | undefined): Scope | undefined {
  if (asked?.namespace === undefined) return undefined;
  const role = policy.roles.find((candidate) => candidate.name === roleName);
  const resolved = role === undefined ? undefined : resolveScope(role, asked, []);
  return resolved === undefined || 'outcome' in resolved ? undefined : resolved;
}
