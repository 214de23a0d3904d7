import { describe, expect, it } from 'vitest';
import { decisionText, requestDetails, requestLine } from '../../src/client/request-text.ts';

/** A reply from a hostile or impersonated server: every text field tries to drive the terminal. */
const ESC = '\u001b[2K\r\u009b31m';
const hostile = {
  requestId: `req_1${ESC}`,
  state: `denied${ESC}`,
  requester: `dave${ESC}`,
  role: `break-glass${ESC}`,
  principals: [`root${ESC}`],
  scope: { cluster: `prod${ESC}`, [`namespace${ESC}`]: 'x' },
  commands: [`sh${ESC}`],
  ttlSeconds: 300,
  reason: `INC-7\n${ESC}`,
  createdAt: `2030-01-01${ESC}`,
  expiresAt: `2030-01-01${ESC}`,
  approvals: [{ approver: `bob${ESC}`, at: `now${ESC}`, reason: `ok${ESC}` }, 'not an object'],
  required: 2,
  approverGroups: [`sre-leads${ESC}`],
  decision: { outcome: 'denied', at: `now${ESC}`, by: `carol${ESC}`, reason: `no${ESC}\u0007` },
  serial: `1${ESC}`,
};

describe('requests as the terminal shows them', () => {
  it('escapes every control character the server sent, in the list line, the details and the outcome', () => {
    for (const shown of [requestLine(hostile), requestDetails(hostile), decisionText(hostile)!]) {
      // Only the newlines between detail lines are real; everything from the server is escaped.
      expect(shown).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(shown).toContain('\\u001b[2K\\u000d\\u009b31m');
    }
    expect(requestDetails(hostile).split('\n').every((line) => /^(\S+\s+|  )/.test(line))).toBe(true);
    expect(decisionText(hostile)).toMatch(/^denied by carol\\u001b/);
  });

  it('says who approved and why once issued, and nothing while pending', () => {
    const issued = { approvals: [{ approver: 'bob', at: 't1', reason: 'INC-7' }, { approver: 'carol', at: 't2' }], decision: { outcome: 'issued', at: 't3' } };
    expect(decisionText(issued)).toBe('issued at t3 after approval by bob (INC-7), carol');
    expect(decisionText({ decision: { outcome: 'expired', at: 't4' } })).toBe('expired at t4');
    expect(decisionText({ decision: { outcome: 'denied', at: 't5', rule: 'ttl.max', message: 'too long' } })).toBe('denied at t5: too long');
    expect(decisionText({ state: 'pending', approvals: [] })).toBeUndefined();
  });
});
