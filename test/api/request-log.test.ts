import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

/** pino levels: 20 debug, 30 info. */
interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

describe('the API log: one line per request saying who, which role, the serial and the error code, never a token', () => {
  let api: ApiFixture;
  let key: TempSshKey;
  let text = '';
  const lines = (): LogLine[] => text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as LogLine);

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    });
    api = await createApiFixture({ logStream: stream });
    key = createTempSshKey('jitca-request-log-');
  });
  afterAll(async () => {
    key?.cleanup();
    await api?.close();
  });

  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: Record<string, unknown>, headers: Record<string, string> = {}) =>
    api.app.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...headers }, ...(payload === undefined ? {} : { payload }) });
  /** The lines written while `run` ran. */
  async function logged(run: () => Promise<unknown>): Promise<LogLine[]> {
    const before = lines().length;
    await run();
    return lines().slice(before);
  }

  it('an issued certificate: who, how, the role it was granted under, serial and request id, at info', async () => {
    let serial = '';
    const written = await logged(async () => {
      const response = await call(api.tokens.alice, 'POST', '/v1/ssh/certificates', { publicKey: key.publicKey, reason: 'INC-1' });
      expect(response.statusCode).toBe(201);
      serial = response.json().serial;
    });
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      level: 30,
      msg: 'request completed',
      method: 'POST',
      route: '/v1/ssh/certificates',
      statusCode: 201,
      who: 'alice',
      via: 'oidc',
      role: 'oncall-payments',
      serial,
      requestId: expect.any(String),
    });
  });

  it('a refusal: the error code and the rule', async () => {
    const written = await logged(() => call(api.tokens.alice, 'POST', '/v1/ssh/certificates', { publicKey: key.publicKey, principals: ['root'], reason: 'INC-1' }));
    expect(written).toEqual([expect.objectContaining({ level: 30, statusCode: 403, who: 'alice', code: 'ERR_POLICY_DENIED', rule: 'principals.not-allowed' })]);
    const anonymous = await logged(() => api.app.inject({ method: 'POST', url: '/v1/ssh/certificates', payload: {} }));
    expect(anonymous).toEqual([expect.objectContaining({ statusCode: 401, code: 'ERR_AUTHN_MISSING' })]);
    expect(anonymous[0]).not.toHaveProperty('who');
  });

  it('polls for a pending request log at debug, one line each', async () => {
    const pending = await call(api.tokens.dave, 'POST', '/v1/ssh/certificates', { publicKey: key.publicKey, role: 'break-glass', scope: { cluster: 'prod', namespace: 'payments' }, reason: 'INC-2' });
    expect(pending.statusCode).toBe(202);
    const id = pending.json().requestId as string;
    const polls = await logged(async () => {
      for (let i = 0; i < 3; i++) {
        expect((await call(api.tokens.dave, 'GET', `/v1/requests/${id}/certificate`)).statusCode).toBe(202);
        expect((await call(api.tokens.dave, 'GET', `/v1/requests/${id}`)).statusCode).toBe(200);
      }
    });
    expect(polls).toHaveLength(6);
    expect(polls.every((line) => line.level === 20 && line['who'] === 'dave' && line['requestId'] === id)).toBe(true);
  });

  it('never writes a token, not even when a request’s headers are logged', async () => {
    const gateway = await logged(() => call(api.gatewayToken, 'POST', '/v1/ssh/certificates', { publicKey: key.publicKey, reason: 'INC-3' }, { 'x-jitca-on-behalf-of': api.tokens.alice }));
    expect(gateway).toEqual([expect.objectContaining({ statusCode: 201, who: 'alice', via: 'gateway', actingFor: expect.any(String) })]);
    // What a handler logging the request would write: the serializer and the redaction paths keep both headers out.
    api.app.log.info({ req: { headers: { authorization: `Bearer ${api.tokens.bob}`, 'x-jitca-on-behalf-of': api.tokens.carol } } }, 'headers');
    for (const token of [...Object.values(api.tokens), api.gatewayToken]) expect(text).not.toContain(token);
    expect(lines().filter((line) => line.msg === 'incoming request')).toEqual([]);
  });
});
