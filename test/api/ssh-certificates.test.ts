import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/ssh/certificate.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

describe('POST /v1/ssh/certificates', () => {
  let api: ApiFixture;
  let key: TempSshKey;

  beforeAll(async () => {
    api = await createApiFixture();
    key = createTempSshKey('jitca-api-keys-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  const post = (token: string | undefined, payload: unknown) =>
    api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      payload: payload as Record<string, unknown>,
    });

  it('issues an HSM-signed certificate for an auto-approved role, bound to the OIDC identity', async () => {
    const response = await post(api.tokens.alice, { publicKey: key.publicKey, role: 'oncall-payments', ttl: '10m', reason: 'INC-42' });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body.status).toBe('issued');
    const certificate = parseCertificate(body.certificate);
    expect(certificate.signatureValid).toBe(true);
    expect(certificate.keyId).toBe(`alice/${body.requestId}`);
    expect(certificate.principals).toEqual(['oncall-payments', 'payments-readonly']);
    expect(Number(certificate.validBefore - certificate.validAfter)).toBe(600 + 60);
    expect(certificate.customExtensions['scope-namespace@jitca.dev']).toBe('payments');
    expect(response.headers['x-request-id']).toBeTruthy();
    const stored = await api.ca.runtime.store.findCertificateBySerial(body.serial);
    expect(stored?.identity).toBe('alice');
  });

  it('refuses what policy does not allow with 403 naming the rule, and audits the denial', async () => {
    const before = api.rowCounts();
    const response = await post(api.tokens.mallory, { publicKey: key.publicKey, role: 'oncall-payments', reason: 'curious' });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'role.groups' } });
    const after = api.rowCounts();
    expect(after.certificates).toBe(before.certificates);
    expect(after.audit_log).toBe(before.audit_log + 1);
  });

  it('answers 401 with a stable code without a token or with a bad one', async () => {
    expect((await post(undefined, { publicKey: key.publicKey, reason: 'x' })).json()).toMatchObject({ code: 'ERR_AUTHN_MISSING' });
    const tampered = `${api.tokens.alice.slice(0, -4)}AAAA`;
    const response = await post(tampered, { publicKey: key.publicKey, reason: 'x' });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('ERR_AUTHN_SIGNATURE');
  });

  it('answers unknown paths and methods with 404 ERR_ROUTE_NOT_FOUND, without echoing the path', async () => {
    for (const [method, url] of [
      ['GET', '/v1/nothing-here'],
      ['GET', '/v1/requests/req_00000000000000000000000000000000/'],
      ['DELETE', '/v1/ssh/certificates'],
      ['GET', '/v1/ssh/certificates?<script>'],
    ] as const) {
      const response = await api.app.inject({ method, url, headers: { authorization: `Bearer ${api.tokens.alice}` } });
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      const body = response.json();
      expect(body.code, `${method} ${url}`).toBe('ERR_ROUTE_NOT_FOUND');
      expect(body.message).not.toContain(url);
    }
  });

  it('refuses two Authorization headers, even when the first is valid, writing nothing', async () => {
    const before = api.rowCounts();
    // Node keeps the first and drops the second: without the check this issued to alice.
    for (const authorization of [[`Bearer ${api.tokens.alice}`, `Bearer ${api.tokens.bob}`], [`Bearer ${api.tokens.alice}`, 'Bearer a.b.c']]) {
      const response = await api.app.inject({
        method: 'POST',
        url: '/v1/ssh/certificates',
        headers: { Authorization: authorization },
        payload: { publicKey: key.publicKey, role: 'oncall-payments', reason: 'INC-42' },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'ERR_AUTHN_MALFORMED', details: { header: 'authorization' } });
    }
    expect(api.rowCounts()).toEqual(before);
  });

  it('refuses malformed bodies with 400 or 413 and a code, writing nothing', async () => {
    const before = api.rowCounts();
    const cases: Array<[unknown, number, string]> = [
      [{ publicKey: key.publicKey, reason: 'x', ttl: 600 }, 400, 'ERR_REQUEST_INVALID'], // wrong type: no coercion
      [{ publicKey: key.publicKey, reason: 'x', extra: true }, 400, 'ERR_REQUEST_INVALID'], // unknown field
      [{ publicKey: key.publicKey, reason: 'x', principals: 'oncall-payments' }, 400, 'ERR_REQUEST_INVALID'],
      [{ publicKey: key.publicKey, reason: 'x', scope: { cluster: 'prod', tenant: 'x' } }, 400, 'ERR_REQUEST_INVALID'],
      [{ publicKey: key.publicKey }, 400, 'ERR_REQUEST_INVALID'], // reason is required
      [{ publicKey: 'ssh-dss AAAAB3NzaC1kc3M= x', reason: 'x' }, 400, 'ERR_KEY_UNSUPPORTED'],
      [{ publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== short', reason: 'x' }, 400, 'ERR_WIRE_TRUNCATED'],
      [{ publicKey: key.publicKey, reason: 'x', ttl: 'forever' }, 400, 'ERR_TTL_INVALID'],
      [{ publicKey: key.publicKey, reason: 'x'.repeat(70 * 1024) }, 413, 'ERR_INPUT_TOO_LARGE'],
    ];
    for (const [payload, status, code] of cases) {
      const response = await post(api.tokens.alice, payload);
      expect(response.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(status);
      expect(response.json().code, JSON.stringify(payload).slice(0, 80)).toBe(code);
    }
    const notJson = await api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: { authorization: `Bearer ${api.tokens.alice}`, 'content-type': 'application/json' },
      payload: '{"publicKey": ',
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().code).toBe('ERR_REQUEST_INVALID');
    expect(api.rowCounts()).toEqual(before);
  });

  it('refuses a body naming a key twice (top level, nested, or spelled with an escape), writing nothing', async () => {
    const before = api.rowCounts();
    const publicKey = JSON.stringify(key.publicKey);
    // JSON.parse would keep the last "role"; a proxy in front may have judged the first.
    for (const [payload, path] of [
      [`{"publicKey":${publicKey},"reason":"x","role":"break-glass","role":"oncall-payments"}`, '/role'],
      [`{"publicKey":${publicKey},"reason":"x","scope":{"cluster":"dev","cluster":"prod"}}`, '/scope/cluster'],
      [`{"publicKey":${publicKey},"reason":"x","rol\\u0065":"break-glass","role":"oncall-payments"}`, '/role'],
    ] as const) {
      const response = await api.app.inject({
        method: 'POST',
        url: '/v1/ssh/certificates',
        headers: { authorization: `Bearer ${api.tokens.alice}`, 'content-type': 'application/json' },
        payload,
      });
      expect(response.statusCode, payload).toBe(400);
      expect(response.json(), payload).toMatchObject({ code: 'ERR_REQUEST_INVALID', details: { path } });
    }
    expect(api.rowCounts()).toEqual(before);
  });

  it('publishes its routes as OpenAPI, its state as metrics, and the trust bundle with an ETag', async () => {
    const openapi = (await api.app.inject({ url: '/openapi.json' })).json();
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/v1/ssh/certificates', '/v1/requests/{id}/approve', '/v1/requests/{id}/certificate', '/v1/trust/ssh-user-ca']),
    );
    expect(openapi.paths['/v1/ssh/certificates'].post.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
    const metrics = (await api.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/jitca_certificates_issued_total\{kind="ssh-user",role="oncall-payments"\} [1-9]/);
    expect(metrics).toMatch(/jitca_requests_denied_total\{rule="role.groups"\} [1-9]/);
    expect(metrics).toMatch(/jitca_hsm_sign_seconds_count [1-9]/);
    expect(metrics).toMatch(/jitca_pending_approvals \d/);
    // The group commit: at least one commit, and at least as many entries as commits.
    const counter = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
    expect(counter('jitca_store_commits_total')).toBeGreaterThan(0);
    expect(counter('jitca_store_entries_committed_total')).toBeGreaterThanOrEqual(counter('jitca_store_commits_total'));
    expect(counter('jitca_store_rollbacks_total')).toBe(0);
    // The process's own health: CPU, event-loop delay, GC.
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(metrics).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
    expect((await api.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    const bundle = await api.app.inject({ url: '/v1/trust/ssh-user-ca' });
    expect(bundle.body).toMatch(/^ssh-ed25519 AAAA/);
    const again = await api.app.inject({ url: '/v1/trust/ssh-user-ca', headers: { 'if-none-match': String(bundle.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });
});

describe('per-identity rate limit', () => {
  let api: ApiFixture;
  beforeAll(async () => {
    api = await createApiFixture({ rateLimitPerMinute: 2 });
  });
  afterAll(async () => api?.close());

  it('answers 429 ERR_RATE_LIMITED past the limit for that person only', async () => {
    const ask = (token: string) =>
      api.app.inject({ method: 'POST', url: '/v1/ssh/certificates', headers: { authorization: `Bearer ${token}` }, payload: { publicKey: 'x', reason: 'r' } });
    expect((await ask(api.tokens.alice)).statusCode).toBe(400);
    expect((await ask(api.tokens.alice)).statusCode).toBe(400);
    const limited = await ask(api.tokens.alice);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe('ERR_RATE_LIMITED');
    expect((await ask(api.tokens.bob)).statusCode).toBe(400);
  });
});

describe('one per-identity budget across every route', () => {
  let api: ApiFixture;
  let key: TempSshKey;
  beforeAll(async () => {
    api = await createApiFixture({ rateLimitPerMinute: 5 });
    key = createTempSshKey('jitca-api-budget-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  it('counts denials, schema refusals and reads on any route together, then answers 429 on all of them', async () => {
    const as = (token: string, method: 'GET' | 'POST', url: string, payload?: unknown) =>
      api.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    const unknown = `/v1/requests/req_${'0'.repeat(32)}`;
    const denied = { publicKey: key.publicKey, role: 'break-glass', reason: 'r' };
    const spent = [
      (await as(api.tokens.alice, 'POST', '/v1/ssh/certificates', denied)).statusCode, // policy denial, audited
      (await as(api.tokens.alice, 'POST', `${unknown}/approve`, {})).statusCode, // no reason: refused by the schema
      (await as(api.tokens.alice, 'POST', `${unknown}/deny`, { reason: 'no' })).statusCode,
      (await as(api.tokens.alice, 'GET', unknown)).statusCode,
      (await as(api.tokens.alice, 'POST', '/v1/ssh/certificates/12345/revoke', { reason: 'lost' })).statusCode,
    ];
    expect(spent).toEqual([403, 400, 404, 404, 404]);
    for (const [method, url, payload] of [
      ['POST', '/v1/ssh/certificates', denied],
      ['POST', '/v1/x509/certificates', { csr: 'x' }],
      ['GET', `${unknown}/certificate`, undefined],
      ['POST', `${unknown}/approve`, {}],
    ] as const) {
      const limited = await as(api.tokens.alice, method, url, payload);
      expect(limited.statusCode, url).toBe(429);
      expect(limited.json().code).toBe('ERR_RATE_LIMITED');
    }
    expect((await as(api.tokens.bob, 'GET', unknown)).statusCode).toBe(404);
  });
});
