/**
 * From a CertificateSigningRequest object to a policy decision: decode spec.request, parse and
 * verify it in process (src/x509 parseCsr; the apiserver already checked the self-signature at
 * create, but the signer does not rely on that), then evaluateCsr. A request jitca cannot parse or
 * whose key it refuses is denied like any other policy failure.
 */
import { ErrorCodes, isJitcaError } from '../errors.ts';
import { evaluateCsr, type CsrDecision, type CsrSigners } from '../policy/csr-evaluate.ts';
import type { Policy } from '../policy/types.ts';
import { parseCsr, type ParsedCsr } from '../x509/csr.ts';
import type { Csr } from './kube-client.ts';

export interface CsrEvaluation {
  decision: CsrDecision;
  /** Present when spec.request parsed and verified. */
  parsed?: ParsedCsr;
}

const KEY_CODES: ReadonlySet<string> = new Set([ErrorCodes.KEY_TOO_SMALL, ErrorCodes.KEY_UNSUPPORTED, ErrorCodes.KEY_MALFORMED, ErrorCodes.KEY_INVALID_POINT]);

/** metadata.creationTimestamp, set by the API server; undefined when missing or not a date. */
function createdAt(csr: Csr): Date | undefined {
  const text = csr.metadata?.creationTimestamp;
  const at = text === undefined ? Number.NaN : new Date(text as unknown as string).getTime();
  return Number.isNaN(at) ? undefined : new Date(at);
}

export function parseCsrOf(csr: Csr): ParsedCsr {
  return parseCsr(Buffer.from(csr.spec.request, 'base64'));
}

/** scopeCluster: the controller's clusterName, which certificates from jitca's signer are scoped to. */
export function decideCsr(policy: Policy, csr: Csr, signers: CsrSigners, scopeCluster?: string): CsrEvaluation {
  let parsed: ParsedCsr;
  try {
    parsed = parseCsrOf(csr);
  } catch (error) {
    if (!isJitcaError(error)) throw error;
    const rule = KEY_CODES.has(error.code) ? 'csr.key' : 'csr.invalid';
    return { decision: { outcome: 'deny', rule, message: `${rule}: spec.request was refused (${error.code}): ${error.message}` } };
  }
  const decision = evaluateCsr(
    policy,
    {
      username: csr.spec.username ?? '',
      groups: csr.spec.groups ?? [],
      signerName: csr.spec.signerName,
      ...(csr.spec.expirationSeconds === undefined ? {} : { expirationSeconds: csr.spec.expirationSeconds }),
      usages: csr.spec.usages ?? [],
      csr: parsed,
      ...(scopeCluster === undefined ? {} : { scopeCluster }),
      // Working hours are judged when the CSR was made, not when a person or a retry looks at it.
      ...(createdAt(csr) === undefined ? {} : { at: createdAt(csr) }),
    },
    signers,
  );
  return { decision, parsed };
}
