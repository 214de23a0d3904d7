import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Identity, OperationName, Policy, Scope } from '../policy/types.ts';
import type { CsrGrant } from '../policy/csr-evaluate.ts';
import { evaluateX509Request, organizationsAsked, type X509Decision } from '../policy/x509-evaluate.ts';
import type { Store } from '../store/types.ts';
import { parseCsr, type ParsedCsr } from '../x509/csr.ts';
import { issueClientCertificate, type SignedCertificate } from '../x509/issue-client-certificate.ts';
import { boundedDenialEvent, boundedForDenial } from './denial-record.ts';
import { auditEvent } from './issue-ssh-certificate.ts';
import { issueCertificate, spkiFingerprint, validityWindow, type CertificateTemplate } from './issuing-core.ts';
import type { KubeClientCa } from './kube-client-ca.ts';
import { newRequestId } from './request-id.ts';

export interface X509IssuanceContext {
  policy: Policy;
  store: Store;
  /** The Kubernetes client CA generation that signs now, asked for each certificate (a rotation needs no restart). */
  activeCa: () => KubeClientCa;
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
  /** The operations needed; the certificate's O values are their groups (absent: the CSR's, or the least the role allows). */
  operations?: OperationName[];
}

export interface X509IssuanceResult {
  requestId: string;
  serial: string;
  certificate: string;
  /** The certificate of the CA generation that signed it. */
  caCertificatePem: string;
  notBefore: Date;
  notAfter: Date;
  organizations: string[];
  /** The operations the certificate's groups enable, when the role's operations name Kubernetes groups. */
  operations?: OperationName[];
  role: string;
}

/**
 * Kubernetes client certificates for engineers who do not go through the cluster's CSR API (the
 * kubectl credential plugin, the gateway): parse -> decide (evaluateX509Request: the same rules as
 * the CSR controller, plus the gateway rule and the scope) -> sign and record (issuing core).
 * The CSR proves possession of the key; its subject is ignored except for the O values it asks.
 */
export async function issueX509ClientCertificate(
  context: X509IssuanceContext,
  identity: Identity,
  input: X509IssuanceInput,
): Promise<X509IssuanceResult> {
  const csr = parseCsr(input.csr);
  const now = context.clock.now();
  const requestId = newRequestId(now);
  const groups = organizationsAsked(context.policy, identity, csr.subject.organizations, input.operations);
  const asked = Array.isArray(groups) ? groups : [];
  const decision: X509Decision = Array.isArray(groups)
    ? evaluateX509Request(context.policy, identity, { signerName: context.signerName, organizations: asked, key: csr, ttlSeconds: input.ttlSeconds, scope: input.scope, at: new Date(now) })
    : { outcome: 'deny', rule: groups.rule, message: groups.message };
  const body = { ttlSeconds: input.ttlSeconds, scope: input.scope, operations: input.operations, organizations: asked, keyAlgorithm: csr.keyAlgorithm };
  if (decision.outcome === 'deny') {
    const refusal = { rule: decision.rule, message: decision.message };
    await context.store.recordDecision({
      request: { id: requestId, kind: 'x509-client', requester: identity.subject, state: 'denied', body: boundedForDenial(body), decision: boundedForDenial(refusal), createdAt: new Date(now).toISOString() },
      event: boundedDenialEvent(auditEvent('x509.denied', identity, requestId, { rule: refusal.rule, message: refusal.message, operations: input.operations, organizations: asked })),
    });
    throw new JitcaError(ErrorCodes.POLICY_DENIED, refusal.message, { details: { rule: refusal.rule, requestId } });
  }
  return signAndRecordX509(context, identity, {
    requestId,
    csr,
    grant: decision.grant,
    ...(decision.scope === undefined ? {} : { scope: decision.scope }),
    approvalReference: `auto:${requestId}`,
    body,
    decision: { outcome: decision.outcome, rule: decision.rule, message: decision.message },
  });
}

/** A granted Kubernetes client certificate to sign and record: what the decision said, nothing more. */
export interface X509Issue {
  requestId: string;
  csr: ParsedCsr;
  grant: CsrGrant;
  /**
   * The granted scope, recorded in the certificate row and the audit record. Not written into the
   * certificate: see src/x509/scope-extension.ts for why the scope extension is not issued.
   */
  scope?: Scope;
  /** The approval the certificate rests on (request id or approvers), recorded with it. */
  approvalReference: string;
  /** What was asked, as stored in the request row. */
  body: Record<string, unknown>;
  decision: { outcome: string; rule: string; message: string };
  /** More for the x509.issued audit record (the gateway path names the SSH certificate it rests on). */
  audit?: Record<string, unknown>;
}

/** Signs and records a granted Kubernetes client certificate (issuing core); decides nothing. */
export async function signAndRecordX509(context: X509IssuanceContext, identity: Identity, issue: X509Issue): Promise<X509IssuanceResult> {
  const { requestId, csr, grant, body } = issue;
  const { scope } = issue;
  const now = context.clock.now();
  const { notBefore, notAfter } = validityWindow(now, context.backdateSeconds, grant.expirationSeconds);

  const template: CertificateTemplate<KubeClientCa, SignedCertificate> = {
    sign: (ca, serial) =>
      issueClientCertificate({
        csr,
        subject: { commonName: identity.subject, organizations: grant.organizations },
        serial,
        notBefore,
        notAfter,
        ca,
      }),
    record: ({ pem }, serial, ca) => ({
      request: {
        id: requestId,
        kind: 'x509-client',
        requester: identity.subject,
        role: grant.role,
        state: 'issued',
        body,
        decision: { ...issue.decision, grant, serial },
        createdAt: new Date(now).toISOString(),
      },
      certificate: {
        serial,
        kind: 'x509-client',
        identity: identity.subject,
        keyId: `CN=${identity.subject}`,
        keyFingerprint: spkiFingerprint(csr.spki),
        principals: grant.organizations,
        // The operations ride along so the active-credentials gauge can count by operation.
        scope: { ...(scope ?? {}), ...(grant.operations === undefined ? {} : { operations: grant.operations }) },
        validAfter: notBefore.toISOString(),
        validBefore: notAfter.toISOString(),
        caKeyId: ca.signer.keyId,
        requestId,
        certificate: pem,
      },
      event: auditEvent('x509.issued', identity, requestId, {
        serial,
        role: grant.role,
        organizations: grant.organizations,
        operations: grant.operations,
        expirationSeconds: grant.expirationSeconds,
        capped: grant.capped,
        scope,
        approvalReference: issue.approvalReference,
        caKeyId: ca.signer.keyId,
        notAfter: notAfter.toISOString(),
        ...issue.audit,
      }),
    }),
  };
  const issued = await issueCertificate(context.store, context.activeCa, template);
  return {
    requestId,
    serial: issued.serial,
    certificate: issued.signed.pem,
    caCertificatePem: issued.ca.certificatePem,
    notBefore,
    notAfter,
    organizations: grant.organizations,
    ...(grant.operations === undefined ? {} : { operations: grant.operations }),
    role: grant.role,
  };
}
