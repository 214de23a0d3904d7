import { renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

describe('HSM and database outages through the API', () => {
  let api: ApiFixture;
  let key: TempSshKey;

  beforeAll(async () => {
    api = await createApiFixture();
    key = createTempSshKey('jitca-fault-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  const issue = () =>
    api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: { authorization: `Bearer ${api.tokens.alice}` },
      payload: { publicKey: key.publicKey, role: 'oncall-payments', reason: 'INC-9' },
    });

  it('answers 503 ERR_HSM_UNAVAILABLE with Retry-After while the token is gone, releases nothing, and recovers', async () => {
    expect((await issue()).statusCode).toBe(201);
    const tokens = path.join(api.ca.dataDir, 'hsm', 'tokens');
    const before = api.rowCounts();
    renameSync(tokens, `${tokens}.away`);
    try {
      const down = await issue();
      expect(down.statusCode).toBe(503);
      expect(down.json().code).toBe('ERR_HSM_UNAVAILABLE');
      expect(down.headers['retry-after']).toBe('1');
      expect((await api.app.inject({ url: '/readyz' })).json()).toMatchObject({ status: 'unavailable', checks: { hsm: 'ERR_HSM_UNAVAILABLE', store: 'ok' } });
      expect(api.rowCounts().certificates).toBe(before.certificates);
    } finally {
      renameSync(`${tokens}.away`, tokens);
    }
    // The pool retries the module after its recovery interval (1 s by default).
    let status = 0;
    for (let attempt = 0; attempt < 20 && status !== 201; attempt++) {
      await sleep(250);
      status = (await issue()).statusCode;
    }
    expect(status).toBe(201);
    expect((await api.app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  it('answers 503 ERR_STORE_UNAVAILABLE when the audit cannot be made durable, and releases no certificate', async () => {
    const before = api.rowCounts();
    // Another writer holds the database: the store's COMMIT cannot happen within its busy timeout.
    const blocker = new Database(api.ca.config.store.sqlitePath);
    blocker.exec('BEGIN IMMEDIATE');
    let blocked;
    try {
      blocked = await issue();
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    expect(blocked.statusCode).toBe(503);
    expect(blocked.json().code).toBe('ERR_STORE_UNAVAILABLE');
    expect(blocked.body).not.toMatch(/cert-v01@openssh.com/);
    expect(api.rowCounts()).toEqual(before);
    const recovered = await issue();
    expect(recovered.statusCode).toBe(201);
    expect(api.rowCounts().certificates).toBe(before.certificates + 1);
  }, 30_000);

  // Last in this file: the store stays down until the process restarts.
  it('answers 503 ERR_STORE_UNAVAILABLE once the SQLite WAL was deleted under it, releasing no certificate, and readyz says so', async () => {
    expect((await issue()).statusCode).toBe(201);
    // Counted by the store (another connection cannot open the database without its WAL).
    const committed = api.ca.runtime.store.stats().entriesCommitted;
    rmSync(`${api.ca.config.store.sqlitePath}-wal`);
    const response = await issue();
    expect(response.statusCode).toBe(503);
    expect(response.json().code).toBe('ERR_STORE_UNAVAILABLE');
    expect(response.body).not.toMatch(/cert-v01@openssh.com/);
    const ready = await api.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.store).toBe('ERR_STORE_UNAVAILABLE');
    expect(api.ca.runtime.store.stats().entriesCommitted).toBe(committed);
  });
});
