import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * Claim types jose never checks (SECURITY-NOTES.md): a subject and groups become certificate
 * principals, key IDs, audit records and, on the Kubernetes side, CSR usernames and groups. So they
 * are refused, never coerced, when they are not exactly what jitca expects.
 */

export const MAX_NAME_LENGTH = 256;

/** C0, DEL, C1, and the Unicode line/paragraph separators: nothing that can forge a log line. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Invisible formatting characters (Unicode category Cf: bidi overrides and isolates, zero-width
 * spaces and joiners, the BOM, soft hyphen). An approver reads the requester's name and groups:
 * "alice\u202Enimda" displays as a different name, and "sre\u200B-leads" looks exactly like a group
 * it is not. Names are identifiers, not prose, so none is allowed.
 */
const INVISIBLE = /\p{Cf}/u;

/**
 * Kubernetes reserves the `system:` prefix for its own users and groups (system:masters,
 * system:nodes, system:node:<name>); an IdP value carrying it must never reach a CSR or a policy.
 * Compared case-insensitively so look-alike spellings are refused too.
 */
function reserved(value: string): boolean {
  return value.toLowerCase().startsWith('system:');
}

function claimsError(message: string, reason: string, details: Record<string, unknown> = {}): JitcaError {
  return new JitcaError(ErrorCodes.AUTHN_CLAIMS, message, { details: { reason, ...details } });
}

function checkName(value: unknown, what: string): string | undefined {
  if (typeof value !== 'string') return `${what} is not a string`;
  if (value.length === 0) return `${what} is empty`;
  if (value.length > MAX_NAME_LENGTH) return `${what} is longer than ${MAX_NAME_LENGTH} characters`;
  if (CONTROL.test(value)) return `${what} contains control characters`;
  if (INVISIBLE.test(value)) return `${what} contains invisible formatting characters (bidi controls, zero-width characters)`;
  // An unpaired surrogate (a "\uD800" escape in the token's JSON) is not text: no UTF-8 log line,
  // database column or certificate field can hold it faithfully.
  if (!value.isWellFormed()) return `${what} is not well-formed Unicode`;
  if (value.trim() !== value) return `${what} has leading or trailing whitespace`;
  if (reserved(value)) return `${what} uses the reserved "system:" prefix`;
  return undefined;
}

export function subjectFromClaim(payload: Record<string, unknown>, claim: string): string {
  const value = payload[claim];
  const problem = checkName(value, `the "${claim}" claim`);
  if (problem !== undefined) throw claimsError(`${problem}; it must be a string of 1 to ${MAX_NAME_LENGTH} printable characters`, 'subject', { claim });
  return value as string;
}

/**
 * A missing groups claim is an identity without groups (policy then grants nothing that requires
 * one). A single string is refused: some IdPs emit one group as a string and several as an array,
 * and guessing whether "a b" is one group or two is how group confusion starts.
 */
export function groupsFromClaim(payload: Record<string, unknown>, claim: string, maxGroups: number): string[] {
  const value = payload[claim];
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw claimsError(`the "${claim}" claim must be an array of strings`, 'groups_type', { claim });
  }
  if (value.length > maxGroups) {
    throw claimsError(`the "${claim}" claim lists ${value.length} groups; at most ${maxGroups} are accepted`, 'groups_count', { claim, maxGroups });
  }
  const groups: string[] = [];
  for (const [index, member] of value.entries()) {
    const problem = checkName(member, `group ${index}`);
    if (problem !== undefined) {
      throw claimsError(`${problem}; groups must be strings of 1 to ${MAX_NAME_LENGTH} printable characters`, 'group', { claim, index });
    }
    groups.push(member as string);
  }
  return groups;
}
