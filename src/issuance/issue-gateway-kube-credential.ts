import { ErrorCodes, JitcaError } from '../errors.ts';
import { evaluateGatewayKubeCredential, type IssuedSshCertificateFacts } from '../policy/gateway-kube-credential.ts';
import { OPERATION_NAMES } from '../policy/operations.ts';
import type { Identity, OperationName } from '../policy/types.ts';
import { parseCertificate, type ParsedSshCertificate } from '../ssh/certificate.ts';
import type { Store, StoredCertificate } from '../store/types.ts';
import { parseCsr } from '../x509/csr.ts';
import { boundedDenialEvent, boundedForDenial } from './denial-record.ts';
import { auditEvent } from './issue-ssh-certificate.ts';
import { signAndRecordX509, type X509IssuanceContext, type X509IssuanceResult } from './issue-x509-certificate.ts';
import { newRequestId } from './request-id.ts';

export interface GatewayKubeCredentialRequest {
  /** The engineer's SSH certificate, as sshd verified it at login (a -cert.pub line). */
  sshCertificate: string;
  /** PEM PKCS#10 request; only its key is used. */
  csr: string;
}

/**
 * One approval, both credentials: the gateway (`service`, authenticated as itself) presents the
 * SSH certificate an engineer logged in with and gets a Kubernetes client certificate for the same
 * person, scope and operations. Gather the facts -> decide (evaluateGatewayKubeCredential) ->
 * sign and record (signAndRecordX509). Every refusal is recorded and audited as x509.denied with
 * the SSH serial; the issued certificate's x509.issued record names the SSH serial it rests on.
 */
export async function issueGatewayKubeCredential(
  context: X509IssuanceContext,
  service: { service: string },
  input: GatewayKubeCredentialRequest,
): Promise<X509IssuanceResult> {
  const presented = parseCertificate(input.sshCertificate);
  const csr = parseCsr(input.csr);
  const serial = presented.serial.toString();
  const now = context.clock.now();
  const requestId = newRequestId(now);
  const issued = await issuedFacts(context, presented, now);
  const decision = evaluateGatewayKubeCredential(context.policy, { issued, signerName: context.signerName, key: csr, now: new Date(now) });
  // Until the certificate is known to be the CA's, its key ID names nobody: the gateway asked.
  const identity: Identity =
    issued === undefined
      ? { subject: service.service, groups: [], via: 'gateway', actingFor: service.service }
      : { subject: issued.subject, groups: issued.groups, via: 'gateway', actingFor: service.service };
  const body = { sshSerial: serial, keyAlgorithm: csr.keyAlgorithm };
  if (decision.outcome === 'deny') {
    const refusal = { rule: decision.rule, message: decision.message };
    await context.store.recordDecision({
      request: { id: requestId, kind: 'x509-client', requester: identity.subject, state: 'denied', body: boundedForDenial(body), decision: boundedForDenial(refusal), createdAt: new Date(now).toISOString() },
      event: boundedDenialEvent(auditEvent('x509.denied', identity, requestId, { rule: refusal.rule, message: refusal.message, sshSerial: serial })),
    });
    throw new JitcaError(ErrorCodes.POLICY_DENIED, refusal.message, { details: { rule: refusal.rule, requestId } });
  }
  return signAndRecordX509(context, identity, {
    requestId,
    csr,
    grant: decision.grant,
    scope: decision.scope,
    approvalReference: decision.approvalReference,
    // kubectl on the gateway loads this certificate, and cannot parse the scope extension's OID.
    body,
    decision: { outcome: decision.outcome, rule: decision.rule, message: decision.message },
    audit: { sshSerial: serial, sshRequestId: issued?.requestId, approvalReference: decision.approvalReference },
  });
}

/**
 * What the CA recorded of the presented certificate, or undefined when it issued no certificate with
 * exactly these bytes: a serial is only a number, so a certificate from another CA, or one of ours
 * with any byte changed, must not borrow a stored row's grant.
 */
async function issuedFacts(
  context: X509IssuanceContext,
  presented: ParsedSshCertificate,
  now: number,
): Promise<(IssuedSshCertificateFacts & { requestId: string }) | undefined> {
  const serial = presented.serial.toString();
  const row = await issuedSshCertificateRow(context.store, presented);
  if (row === undefined) return undefined;
  const request = await context.store.getRequest(row.requestId);
  const extension = (name: string): string | undefined => presented.customExtensions[`${name}@${context.policy.extensionDomain}`];
  const role = extension('role');
  const approvalReference = extension('approval');
  const cluster = extension('scope-cluster');
  const namespace = extension('scope-namespace');
  if (request === undefined || role === undefined || approvalReference === undefined || cluster === undefined || namespace === undefined) return undefined;
  const pod = extension('scope-pod');
  const node = extension('scope-node');
  const operationsText = extension('operations');
  const operations = operationsText?.split(',');
  // jitca writes known names only (scope-extensions.ts); anything else is not its grant.
  if (operations !== undefined && !operations.every((name) => OPERATION_NAMES.includes(name as OperationName))) return undefined;
  // Revoked certificates still valid now are listed; an expired one is refused as expired anyway.
  const revoked = (await context.store.listRevocations(new Date(now).toISOString())).some((revocation) => revocation.serial === serial);
  return {
    serial,
    requestId: row.requestId,
    subject: row.identity,
    groups: requesterGroups(request.body),
    role,
    scope: { cluster, namespace, ...(pod === undefined ? {} : { pod }), ...(node === undefined ? {} : { node }) },
    ...(operations === undefined ? {} : { operations: operations as OperationName[] }),
    approvalReference,
    validAfter: new Date(row.validAfter),
    validBefore: new Date(row.validBefore),
    revoked,
  };
}

/** The stored row of the SSH certificate this CA issued with exactly the presented bytes, if any. */
export async function issuedSshCertificateRow(store: Pick<Store, 'findCertificateBySerial'>, presented: ParsedSshCertificate): Promise<StoredCertificate | undefined> {
  const row = await store.findCertificateBySerial(presented.serial.toString());
  return row?.kind === 'ssh-user' && sameBytes(row, presented) ? row : undefined;
}

function sameBytes(row: StoredCertificate, presented: ParsedSshCertificate): boolean {
  const stored = parseCertificate(row.certificate).blob;
  return Buffer.from(stored).equals(Buffer.from(presented.blob));
}

/** The groups the requester was authenticated with when they asked (issue-ssh-certificate.ts requestBody). */
function requesterGroups(body: Record<string, unknown>): string[] {
  const identity = body['identity'];
  const groups = typeof identity === 'object' && identity !== null ? (identity as Record<string, unknown>)['groups'] : undefined;
  return Array.isArray(groups) ? groups.filter((group): group is string => typeof group === 'string') : [];
}
