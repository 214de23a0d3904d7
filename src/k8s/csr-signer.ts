/**
 * jitca's own signer: turns an approved, claimed CSR into a certificate from the HSM CA and puts it
 * into status.certificate. Signing code makes no policy decision (CONTRIBUTING.md, "Decide, then
 * act"): subject, groups, lifetime and serial come from the stored decision; the CSR contributes
 * only its public key.
 *
 * The apiserver lets a signer write status.certificate on a CSR that is not Approved
 * (validation.go checks only that the certificate is well-formed and not changed once set), so
 * the Approved check here is the only one there is.
 */
import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import {
  issueCertificateWithSerial,
  spkiFingerprint,
  validityWindow,
  type ActiveCa,
  type CertificateTemplate,
  type X509SigningCa,
} from '../issuance/issuing-core.ts';
import type { Store } from '../store/types.ts';
import type { ParsedCsr } from '../x509/csr.ts';
import { issueClientCertificate, type SignedCertificate } from '../x509/issue-client-certificate.ts';
import { issuedRecord, requestIdOf, type StoredCsrDecision } from './csr-claim.ts';
import { certificatePemOf, hasCondition, withCertificate } from './csr-conditions.ts';
import { parseCsrOf } from './csr-decide.ts';
import { MAX_CONFLICT_RETRIES, readSameCsr } from './csr-approver.ts';
import type { Csr, CsrApi } from './kube-client.ts';

export interface SigningContext {
  store: Store;
  /** The Kubernetes client CA generation that signs now, asked for each certificate. */
  activeCa: ActiveCa<X509SigningCa>;
  clock: Clock;
  instanceId: string;
  /** notBefore = now - this, for clock skew between jitca and the apiserver (default 60 s). */
  backdateSeconds: number;
}

export interface IssuedPem {
  pem: string;
  /** True when this call signed; false when the certificate came from the store. */
  signedHere: boolean;
}

/** RFC 4514 string of the subject, for the certificate row's keyId. */
function subjectText(commonName: string, organizations: readonly string[]): string {
  const escape = (value: string): string => value.replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
  return [`CN=${escape(commonName)}`, ...organizations.map((o) => `O=${escape(o)}`)].join(',');
}

/**
 * The certificate for a claimed approval: the recorded one if there is one (recovery: never sign
 * twice), else signed now by the issuing core with the claim's serial and recorded with csr.signed
 * before returning. Everything in it comes from the stored decision, scope included.
 */
export async function ensureCertificate(
  context: SigningContext,
  csr: Csr,
  decision: StoredCsrDecision,
  parsedCsr?: ParsedCsr,
  lookInStore = true,
): Promise<IssuedPem> {
  const { grant, serial } = decision;
  if (grant === undefined || serial === undefined) {
    throw new JitcaError(ErrorCodes.STORE_FAILURE, `stored decision for CSR ${csr.metadata?.name ?? ''} has no grant or serial`);
  }
  const requestId = requestIdOf(csr);
  const recorded = lookInStore ? await context.store.findCertificateBySerial(serial) : undefined;
  if (recorded !== undefined) return { pem: checkOwner(recorded.requestId, requestId, serial, recorded.certificate), signedHere: false };

  // Parsed (and its signature verified) from this very object when the caller decided on it.
  const parsed = parsedCsr ?? parseCsrOf(csr);
  const now = context.clock.now();
  const { notBefore, notAfter } = validityWindow(now, context.backdateSeconds, grant.expirationSeconds);
  const template: CertificateTemplate<X509SigningCa, SignedCertificate> = {
    sign: (ca, claimedSerial) =>
      issueClientCertificate({
        csr: parsed,
        subject: { commonName: grant.commonName, organizations: grant.organizations },
        serial: claimedSerial,
        notBefore,
        notAfter,
        rsaKeyEncipherment: grant.usages.includes('key encipherment'),
        ca,
      }),
    record: ({ pem }, recordedSerial, ca) =>
      issuedRecord(
        csr,
        decision,
        {
          serial: recordedSerial,
          kind: 'x509-client',
          identity: grant.commonName,
          keyId: subjectText(grant.commonName, grant.organizations),
          keyFingerprint: spkiFingerprint(parsed.spki),
          principals: [...grant.organizations],
          // The granted cluster and namespace with it: the certificate no longer carries them (x509/scope-extension.ts).
          scope: { ...grant.scope, kubernetes: { signerName: csr.spec.signerName, csr: csr.metadata?.name ?? '', uid: csr.metadata?.uid ?? '', role: grant.role, usages: grant.usages } },
          validAfter: notBefore.toISOString(),
          validBefore: notAfter.toISOString(),
          caKeyId: ca.signer.keyId,
          requestId,
          certificate: pem,
        },
        context.instanceId,
        new Date(now).toISOString(),
      ),
  };
  const issued = await issueCertificateWithSerial(context.store, context.activeCa, template, BigInt(serial));
  if (issued !== undefined) return { pem: issued.signed.pem, signedHere: true };
  // Another instance recorded this serial first: ours was never recorded nor released.
  const winner = await context.store.findCertificateBySerial(serial);
  if (winner === undefined) throw new JitcaError(ErrorCodes.STORE_FAILURE, `serial ${serial} conflicted but no certificate is recorded under it`, { retryable: true });
  return { pem: checkOwner(winner.requestId, requestId, serial, winner.certificate), signedHere: false };
}

function checkOwner(recordedFor: string, requestId: string, serial: string, pem: string): string {
  if (recordedFor !== requestId) {
    // 64 random bits collided with another request's serial: never hand out someone else's certificate.
    throw new JitcaError(ErrorCodes.STORE_CONFLICT, `serial ${serial} is recorded for another request; this CSR cannot be signed with it`, {
      details: { serial },
    });
  }
  return pem;
}

export interface CertificateWriteResult {
  csr: Csr;
  written: boolean;
}

/**
 * PUT /status with the certificate, only on a CSR that carries Approved and no Denied/Failed.
 * On 409 the CSR is read again; a CSR that already holds this certificate is done, one holding a
 * different certificate is left alone (status.certificate is immutable once set).
 */
export async function writeCertificate(api: CsrApi, csr: Csr, pem: string): Promise<CertificateWriteResult> {
  let current = csr;
  for (let attempt = 0; ; attempt += 1) {
    const present = certificatePemOf(current);
    if (present !== undefined) return { csr: current, written: false };
    if (!hasCondition(current, 'Approved') || hasCondition(current, 'Denied') || hasCondition(current, 'Failed')) {
      throw new JitcaError(ErrorCodes.POLICY_DENIED, `CSR ${current.metadata?.name ?? ''} is not Approved (or was Denied/Failed); it is not signed`);
    }
    try {
      return { csr: await api.replaceStatus(withCertificate(current, pem)), written: true };
    } catch (error) {
      if (!isJitcaError(error, ErrorCodes.KUBE_CONFLICT) || attempt >= MAX_CONFLICT_RETRIES) throw error;
      current = await readSameCsr(api, csr);
    }
  }
}
