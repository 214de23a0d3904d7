import { describe, expect, it } from 'vitest';
import { httpStatusFor } from '../src/api/error-mapping.ts';
import { ErrorCodes, JitcaError, errorClasses, type ErrorCode } from '../src/errors.ts';

/**
 * What the API and the CSR controller did before errors.ts had one table: statuses by regex
 * (anything unmatched was 500), and the controller's retry by code prefix. The table must give
 * every code the same answers.
 */
const statusByPrefixBeforeTheTable: Array<[RegExp, number]> = [
  [/^ERR_AUTHN_UNAVAILABLE$/, 503],
  [/^ERR_AUTHN_/, 401],
  [/^ERR_(POLICY_DENIED|APPROVAL_REFUSED|FORBIDDEN|GATEWAY_REFUSED)$/, 403],
  [/^ERR_(REQUEST|CERTIFICATE|ROUTE|ENROLLED_KEY|LOCAL_USER)_NOT_FOUND$/, 404],
  [/^ERR_(REQUEST_NOT_PENDING|REQUEST_CHANGED|STORE_CONFLICT|KEY_ALREADY_ENROLLED|KEY_ENROLLED_ELSEWHERE|LOCAL_USER_CONFLICT)$/, 409],
  [/^ERR_REQUEST_TIMEOUT$/, 408],
  [/^ERR_INPUT_TOO_LARGE$/, 413],
  [/^ERR_RATE_LIMITED$/, 429],
  [/^ERR_(HSM|STORE)_/, 503],
  [/^ERR_(REQUEST_INVALID|TTL_INVALID|KEY_|WIRE_|CSR_)/, 400],
  // Added with the table: attestation input is the caller's, refused like a bad CSR.
  [/^ERR_ATTESTATION_/, 400],
];
/** Codes added since the table, with the status each was given. */
const statusOfCodesAddedSince: Record<string, number> = { ERR_HOST_REPORT_INVALID: 400, ERR_CHALLENGE_INVALID: 400 };
const controllerRetryPrefixesBeforeTheTable = ['ERR_HSM_', 'ERR_STORE_UNAVAILABLE', 'ERR_STORE_FAILURE', 'ERR_KUBE_', 'ERR_CONFIG_INVALID'];
/** Codes added after the table, checked against their own row instead of the rules from before it. */
const addedAfterTheTable: Record<string, { status: number; retry: string }> = {
  ERR_ROTATION_LOCKED: { status: 409, retry: 'later' },
  ERR_ROTATION_REFUSED: { status: 409, retry: 'no' },
  ERR_LEADER_FENCED: { status: 409, retry: 'no' },
  ERR_AUDIT_ARCHIVE_INVALID: { status: 409, retry: 'no' },
  ERR_AUDIT_TRUNCATE_REFUSED: { status: 409, retry: 'no' },
};
const allCodes = Object.values(ErrorCodes);
const codes = allCodes.filter((code) => !Object.hasOwn(addedAfterTheTable, code));

function oldStatus(code: string): number {
  if (code in statusOfCodesAddedSince) return statusOfCodesAddedSince[code] as number;
  return statusByPrefixBeforeTheTable.find(([pattern]) => pattern.test(code))?.[1] ?? 500;
}

describe('the error table', () => {
  it('has one row for every code and none for anything else', () => {
    expect(Object.keys(errorClasses).sort()).toEqual([...allCodes].sort());
  });

  it('gives the codes added since the table their intended status and retry class', () => {
    for (const [code, expected] of Object.entries(addedAfterTheTable)) {
      expect([code, errorClasses[code as ErrorCode], httpStatusFor(code)]).toEqual([code, expected, expected.status]);
    }
  });

  it('gives every code the HTTP status the API answered before', () => {
    expect(Object.fromEntries(codes.map((code) => [code, httpStatusFor(code)]))).toEqual(
      Object.fromEntries(codes.map((code) => [code, oldStatus(code)])),
    );
  });

  it('answers 500 for a code it does not know (a server-side bug, never a caller fault)', () => {
    expect(httpStatusFor('ERR_NOT_A_CODE')).toBe(500);
    expect(httpStatusFor('toString')).toBe(500);
    expect(httpStatusFor('__proto__')).toBe(500);
  });

  it('keeps queued every CSR the controller kept queued before, and no other (retry class other than "no")', () => {
    // Every place that throws these passes retryable: true (RATE_LIMITED: the failed-authentication
    // limit), so the controller retried them through error.retryable, not by prefix.
    const retryableWhereThrown = [ErrorCodes.AUTHN_UNAVAILABLE, ErrorCodes.SERVER_UNREACHABLE, ErrorCodes.RATE_LIMITED] as string[];
    const retriedNow = codes.filter((code) => errorClasses[code].retry !== 'no');
    const retriedBefore = codes.filter(
      (code) => retryableWhereThrown.includes(code) || controllerRetryPrefixesBeforeTheTable.some((prefix) => code.startsWith(prefix)),
    );
    expect(retriedNow).toEqual(retriedBefore);
  });

  it('makes a JitcaError retryable by default exactly when its code is `later`', () => {
    for (const code of codes) {
      expect([code, new JitcaError(code, 'x').retryable]).toEqual([code, errorClasses[code].retry === 'later']);
    }
    expect(new JitcaError(ErrorCodes.HSM_UNAVAILABLE, 'closed for good', { retryable: false }).retryable).toBe(false);
    expect(new JitcaError(ErrorCodes.HSM_FAILURE, 'signature did not verify', { retryable: true }).retryable).toBe(true);
  });

  it('says 4xx only for the caller\'s own failures and 503 only for parts that come back or an operator fixes', () => {
    for (const code of codes) {
      const { status, retry } = errorClasses[code];
      if (status === 503) expect([code, retry]).not.toEqual([code, 'no']);
      if (retry === 'after-fix') expect([code, status >= 500]).toEqual([code, true]);
    }
  });
});
