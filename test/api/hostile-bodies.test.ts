import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

describe('hostile request bodies', () => {
  let api: ApiFixture;
  let key: TempSshKey;
  beforeAll(async () => {
    api = await createApiFixture({ rateLimitPerMinute: 100_000 });
    key = createTempSshKey('jitca-hostile-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  it('never get a 5xx, always carry a stable code, and write rows only for decisions they caused', async () => {
    const [type, base64] = key.publicKey.split(' ') as [string, string];
    /** The real key, bent: truncated, a character replaced, junk appended, type swapped. */
    const bentKey = fc.oneof(
      fc.nat({ max: base64.length }).map((cut) => `${type} ${base64.slice(0, cut)}`),
      fc.tuple(fc.nat({ max: base64.length - 1 }), fc.constantFrom(...'A/+z9=')).map(([at, c]) => `${type} ${base64.slice(0, at)}${c}${base64.slice(at + 1)}`),
      fc.string({ maxLength: 40 }).map((junk) => `${type} ${base64}${junk}`),
      fc.constantFrom('ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'sk-ssh-ed25519@openssh.com', 'ssh-ed25519-cert-v01@openssh.com').map((t) => `${t} ${base64}`),
      fc.string(),
    );
    /** Schema-valid bodies that reach the key parser, the duration parser and policy. */
    const deepBody = fc.record(
      {
        publicKey: bentKey,
        role: fc.constantFrom('oncall-payments', 'break-glass', 'no-such-role', 'x'.repeat(63)),
        principals: fc.array(fc.constantFrom('oncall-payments', 'root', 'a,b', 'x'), { minLength: 1, maxLength: 3 }),
        ttl: fc.constantFrom('30m', '0s', '-1s', '99999999h', '1h30m', 'soon', '1e9'),
        scope: fc.record({ cluster: fc.constantFrom('prod', 'dev'), namespace: fc.constantFrom('payments', 'kube-system') }, { requiredKeys: [] }),
        commands: fc.array(fc.constantFrom('kubectl logs', 'rm -rf /', ''), { maxLength: 3 }),
        reason: fc.string({ minLength: 1, maxLength: 50 }),
      },
      { requiredKeys: ['publicKey', 'reason'] },
    );
    const before = api.rowCounts();
    let issued = 0;
    let decisions = 0;
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: deepBody, weight: 4 }, { arbitrary: fc.anything(), weight: 1 }), async (payload) => {
        const response = await api.app.inject({
          method: 'POST',
          url: '/v1/ssh/certificates',
          headers: { authorization: `Bearer ${api.tokens.alice}`, 'content-type': 'application/json' },
          payload: JSON.stringify(payload) ?? 'null',
        });
        expect(response.statusCode, JSON.stringify(payload)?.slice(0, 200)).toBeLessThan(500);
        const body = response.json();
        if (response.statusCode === 201) {
          issued++;
          decisions++;
          return;
        }
        expect(body.code).toMatch(/^ERR_[A-Z_]+$/);
        seen.add(body.code);
        if (body.code === 'ERR_POLICY_DENIED') decisions++;
      }),
      { numRuns: 400 },
    );
    // The generators must reach past the schema: key and duration errors and policy denials.
    expect([...seen]).toEqual(expect.arrayContaining(['ERR_REQUEST_INVALID', 'ERR_POLICY_DENIED', 'ERR_TTL_INVALID']));
    expect([...seen].some((code) => /^ERR_(KEY|WIRE)_/.test(code))).toBe(true);
    const after = api.rowCounts();
    expect(after.certificates - before.certificates).toBe(issued);
    expect(after.audit_log - before.audit_log).toBe(decisions);
  }, 90_000);
});
