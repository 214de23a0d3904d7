/**
 * Writes a decision condition to the API. Approved/Denied go through PUT /approval, Failed through
 * PUT /status (strategy.go: /approval may only change conditions, /status may not add or change
 * Approved/Denied). Optimistic concurrency: the PUT carries the resourceVersion that was read; on
 * 409 the CSR is read again and, if it is still without a decision, the condition is written
 * again on top of the new version. Somebody else's decision is never overwritten.
 *
 * A name is not an identity: a CSR can be deleted and another created under its name between the
 * read and the write (the 409 is how that shows). The re-read object must be the one the decision
 * was made for (same metadata.uid), or the decision is never written to it.
 */
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { hasCondition, withCondition, type ConditionToAdd } from './csr-conditions.ts';
import type { Csr, CsrApi } from './kube-client.ts';

export const MAX_CONFLICT_RETRIES = 5;

export interface ConditionWriteResult {
  /** The CSR as the apiserver now has it. */
  csr: Csr;
  /** False when another decision (Approved/Denied/Failed by someone else) was there first. */
  written: boolean;
  conflicts: number;
}

function alreadySettled(csr: Csr, condition: ConditionToAdd): boolean | 'other' {
  if (hasCondition(csr, condition.type)) return true;
  if (condition.type === 'Failed') return hasCondition(csr, 'Denied') ? 'other' : false;
  return hasCondition(csr, 'Approved') || hasCondition(csr, 'Denied') ? 'other' : false;
}

/**
 * Reads the CSR again after a 409. A different metadata.uid means the CSR the decision was made
 * for was deleted and the name reused: ERR_KUBE_REQUEST_FAILED with status 404 (final, like a
 * deleted CSR), so nothing decided for one request is ever written onto another.
 */
export async function readSameCsr(api: CsrApi, csr: Csr): Promise<Csr> {
  const name = csr.metadata?.name ?? '';
  const current = await api.read(name);
  const uid = csr.metadata?.uid;
  if (uid === undefined || current.metadata?.uid !== uid) {
    throw new JitcaError(ErrorCodes.KUBE_REQUEST_FAILED, `CSR ${name} (uid ${uid ?? 'unknown'}) was deleted; the CSR now under that name is another request`, {
      details: { status: 404, reason: 'NotFound' },
    });
  }
  return current;
}

export async function writeCondition(api: CsrApi, csr: Csr, condition: ConditionToAdd): Promise<ConditionWriteResult> {
  let current = csr;
  let conflicts = 0;
  for (;;) {
    const settled = alreadySettled(current, condition);
    if (settled !== false) return { csr: current, written: false, conflicts };
    const next = withCondition(current, condition);
    try {
      const written = condition.type === 'Failed' ? await api.replaceStatus(next) : await api.replaceApproval(next);
      return { csr: written, written: true, conflicts };
    } catch (error) {
      if (!isJitcaError(error, ErrorCodes.KUBE_CONFLICT)) throw error;
      conflicts += 1;
      if (conflicts > MAX_CONFLICT_RETRIES) {
        throw new JitcaError(ErrorCodes.KUBE_CONFLICT, `CSR ${csr.metadata?.name ?? ''} kept changing under ${MAX_CONFLICT_RETRIES} attempts to add ${condition.type}`, {
          retryable: true,
          cause: error,
        });
      }
      current = await readSameCsr(api, csr);
    }
  }
}
