/**
 * The one rule for reason text, wherever jitca takes a reason into the audit log: a request's, an
 * approval's or denial's, a revocation's, through the API or the local CLI. The API's JSON Schemas
 * use reasonSchema, the code paths that are not behind a schema (the CLI, evaluate) call
 * findReasonProblem; both are built from the same constants, so a reason one accepts the other
 * accepts too (a tab passed the schema and was refused by the revocation code).
 */
import { MAX_REASON_LENGTH, REASON_PATTERN, compilePattern } from './patterns.ts';

export const reasonSchema = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_REASON_LENGTH,
  pattern: REASON_PATTERN,
  description: 'why (audited): tab and newline allowed, no other control character, not only whitespace',
} as const;

const REASON = compilePattern(REASON_PATTERN);

/** A message naming what is wrong with the reason, or undefined when it is acceptable. */
export function findReasonProblem(reason: unknown): string | undefined {
  if (typeof reason !== 'string') return 'reason must be text';
  // JSON Schema's minLength/maxLength count code points (ajv's ucs2length), not UTF-16 units: an
  // emoji is one character to the schema and must be one here.
  const length = [...reason].length;
  if (length < reasonSchema.minLength || length > reasonSchema.maxLength) {
    return `reason must be ${reasonSchema.minLength} to ${reasonSchema.maxLength} characters, got ${length}`;
  }
  if (!REASON.test(reason)) return 'reason must say something (not only whitespace) and hold no control character other than tab and newline';
  return undefined;
}
