import { readFileSync } from 'node:fs';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { decideCsr } from '../k8s/csr-decide.ts';
import type { Csr } from '../k8s/kube-client.ts';
import { KUBE_APISERVER_CLIENT_SIGNER, type CsrDecision, type CsrSigners } from '../policy/csr-evaluate.ts';
import type { Policy } from '../policy/types.ts';

export interface CsrEvaluateOptions {
  csr: string;
  username?: string;
  group: string[];
  usage?: string[];
  signerName: string;
  expirationSeconds?: number;
}

export const DEFAULT_CSR_USAGES = ['client auth', 'digital signature'];

/**
 * `policy evaluate --csr`: the decision `jitca controller` would make on a CertificateSigningRequest
 * carrying this PEM request, with spec.username, spec.groups, usages, signerName and
 * expirationSeconds as given. It goes through decideCsr, the controller's own path (parse and
 * verify the request, then the pure evaluateCsr), so a CSR jitca cannot parse is denied here as
 * there. kube-apiserver-client is approved only; any other signer name is taken as jitca's own
 * (config kubernetes.signerName), which it signs.
 */
export function evaluateCsrFile(policy: Policy, options: CsrEvaluateOptions): CsrDecision {
  if (options.username === undefined) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--csr needs --username (the CSR\'s spec.username)');
  const signers: CsrSigners = {
    [options.signerName]: options.signerName === KUBE_APISERVER_CLIENT_SIGNER ? 'approve' : 'sign',
  };
  const csr: Csr = {
    spec: {
      request: readCsrFile(options.csr).toString('base64'),
      signerName: options.signerName,
      username: options.username,
      groups: options.group,
      usages: options.usage ?? DEFAULT_CSR_USAGES,
      ...(options.expirationSeconds === undefined ? {} : { expirationSeconds: options.expirationSeconds }),
    },
  };
  return decideCsr(policy, csr, signers).decision;
}

/** Its size and shape are decideCsr's to judge, as for a CSR from the cluster. */
function readCsrFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `cannot read --csr file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
}
