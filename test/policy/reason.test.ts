import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_REASON_LENGTH } from '../../src/policy/patterns.ts';
import { findReasonProblem, reasonSchema } from '../../src/policy/reason.ts';

/** The API judges reasons with ajv (as fastify does); the CLI and the issuance core with findReasonProblem. */
const schemaAccepts = new Ajv().compile(reasonSchema);

describe('reason text: one rule for the API schema and the code', () => {
  it('accepts and refuses the same reasons', () => {
    const cases = [
      'laptop\tlost',
      'INC-7:\n\tpager confirmed',
      '  \t\n ',
      '',
      'ok\u0000',
      'ok\u001b[2K',
      'ok\r',
      'ok\u007f',
      '\u{1F525}'.repeat(MAX_REASON_LENGTH),
      '\u{1F525}'.repeat(MAX_REASON_LENGTH + 1),
      'x'.repeat(MAX_REASON_LENGTH + 1),
      '\u00a0',
    ];
    for (const reason of cases) {
      expect(findReasonProblem(reason) === undefined, JSON.stringify(reason).slice(0, 40)).toBe(schemaAccepts(reason));
    }
    expect(findReasonProblem('laptop\tlost')).toBeUndefined();
    expect(findReasonProblem('  \t\n ')).toMatch(/not only whitespace/);
  });

  it('agrees on arbitrary text, control characters and astral characters included', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: fc.constantFrom('a', ' ', '\t', '\n', '\r', '\u0000', '\u007f', '\u{1F525}', '\u00a0'), maxLength: MAX_REASON_LENGTH + 2 }),
    );
    fc.assert(fc.property(text, (reason) => (findReasonProblem(reason) === undefined) === schemaAccepts(reason)), { numRuns: 2000 });
  });
});
