import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { startPostgres, type PostgresCluster } from '../support/postgres.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

/**
 * Hostile bodies against the API on PostgreSQL: its text columns cannot hold U+0000 (SQLSTATE
 * 22021), where SQLite can, so a value that reaches a column unescaped behaves differently there.
 */
describe('hostile request bodies on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let api: ApiFixture;
  let key: TempSshKey;
  beforeAll(async () => {
    cluster = await startPostgres();
    api = await createApiFixture({ store: { postgresUrl: cluster.createDatabase('jitca_api_bodies') } });
    key = createTempSshKey('jitca-pg-bodies-');
  });
  afterAll(async () => {
    await api?.close();
    cluster?.stop();
    key?.cleanup();
  });

  it('a role name holding NUL is denied by policy and audited, as on SQLite, not a 503', async () => {
    const before = (await api.ca.runtime.store.listAudit({ limit: 1000 })).length;
    const response = await api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: { authorization: `Bearer ${api.tokens.alice}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ publicKey: key.publicKey, role: 'oncall-payments\u0000', reason: 'x' }),
    });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'ERR_POLICY_DENIED', details: { rule: 'request.invalid' } });
    const audit = await api.ca.runtime.store.listAudit({ limit: 1000 });
    expect(audit).toHaveLength(before + 1);
    expect(audit.at(-1)).toMatchObject({ type: 'ssh.denied', subject: 'alice', data: { rule: 'request.invalid', role: 'oncall-payments\u0000' } });
    const stored = await api.ca.runtime.store.getRequest(response.json().details.requestId);
    expect(stored).toMatchObject({ state: 'denied', requester: 'alice' });
  });
});
