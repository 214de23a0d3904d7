/**
 * Reading and writing CertificateSigningRequest conditions (certificates.k8s.io/v1: Approved and
 * Denied are set through /approval and are mutually exclusive; Failed is set by the signer through
 * /status; all three only ever have status "True" and can never be removed).
 */
import type { V1CertificateSigningRequestCondition } from '@kubernetes/client-node';
import type { CsrDenyRule } from '../policy/csr-evaluate.ts';
import type { Csr } from './kube-client.ts';

export type DecisionConditionType = 'Approved' | 'Denied' | 'Failed';

/** Condition reason when jitca's policy approved. */
export const APPROVED_REASON = 'JitcaPolicy';
/** Condition reason when jitca could not sign an approved CSR for a reason other than policy. */
export const SIGNING_FAILED_REASON = 'JitcaSigningFailed';

export function hasCondition(csr: Csr, type: DecisionConditionType): boolean {
  return (csr.status?.conditions ?? []).some((condition) => condition.type === type && condition.status === 'True');
}

/** Approved, Denied or Failed present: nothing is left to decide. */
export function isDecided(csr: Csr): boolean {
  return hasCondition(csr, 'Approved') || hasCondition(csr, 'Denied');
}

export function hasCertificate(csr: Csr): boolean {
  return (csr.status?.certificate ?? '') !== '';
}

/** "csr.cn-mismatch" -> "JitcaCnMismatch": a stable, machine-readable reason per rule. */
export function reasonForRule(rule: CsrDenyRule): string {
  const words = rule.replace(/^csr\./, '').split('-');
  return `Jitca${words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('')}`;
}

export interface ConditionToAdd {
  type: DecisionConditionType;
  reason: string;
  message: string;
}

/** The CSR with one more condition; lastUpdateTime/lastTransitionTime are filled by the apiserver. */
export function withCondition(csr: Csr, condition: ConditionToAdd): Csr {
  const added: V1CertificateSigningRequestCondition = {
    type: condition.type,
    status: 'True',
    reason: condition.reason,
    message: condition.message.slice(0, 1024),
  };
  return { ...csr, status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), added] } };
}

export function withCertificate(csr: Csr, pem: string): Csr {
  return { ...csr, status: { ...csr.status, certificate: Buffer.from(pem, 'utf8').toString('base64') } };
}

export function certificatePemOf(csr: Csr): string | undefined {
  const encoded = csr.status?.certificate;
  return encoded === undefined || encoded === '' ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
}
