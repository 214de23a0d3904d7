/**
 * /readyz must say what a request would get (issue 12, item 11): not ready while writes fail,
 * ready while signing works. Both faults are real: a full file system under the SQLite file (a
 * small tmpfs: needs root to mount, skipped otherwise) and a key object in the token that makes
 * listing the token's keys fail while the CA key signs as before.
 */
import fs from 'node:fs';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterEach, describe, expect, it } from 'vitest';
import { mountSmallTmpfs } from '../support/small-tmpfs.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';
import { secondHandle, slotOf } from '../hsm/softhsm-fixture.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(options: Parameters<typeof createApiFixture>[0] = {}): Promise<{ api: ApiFixture; issue: () => Promise<{ statusCode: number }> }> {
  const api = await createApiFixture(options);
  cleanups.push(() => api.close());
  const key: TempSshKey = createTempSshKey('jitca-ready-');
  cleanups.push(() => key.cleanup());
  const issue = () =>
    api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: { authorization: `Bearer ${api.tokens.alice}` },
      payload: { publicKey: key.publicKey, role: 'oncall-payments', reason: 'INC-11' },
    });
  return { api, issue };
}

describe('/readyz reflects what a request would get', () => {
  it('is not ready while the database cannot commit (full file system), and ready again once space is freed', async (context) => {
    const mountPoint = mountSmallTmpfs(context, cleanups);
    if (mountPoint === undefined) return;
    const { api, issue } = await started({ store: { sqlitePath: path.join(mountPoint, 'jitca.sqlite') } });
    expect((await issue()).statusCode).toBe(201);
    expect((await api.app.inject({ url: '/readyz' })).statusCode).toBe(200);

    const filler = path.join(mountPoint, 'filler');
    const fd = fs.openSync(filler, 'w');
    try {
      const block = Buffer.alloc(4096);
      for (;;) fs.writeSync(fd, block);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    // Reads still answer; what a request needs, a commit, does not happen.
    expect(await api.ca.runtime.store.listAudit({ limit: 1 })).toHaveLength(1);
    const ready = await api.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'unavailable', checks: { hsm: 'ok', store: 'ERR_STORE_UNAVAILABLE' } });
    expect((await issue()).statusCode).toBe(503);

    fs.unlinkSync(filler);
    expect((await api.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect((await issue()).statusCode).toBe(201);
  });

  it('is ready while the CA key signs, even when listing the token fails on an object someone else put there', async () => {
    const { api, issue } = await started();
    // Another PKCS#11 user of the token (same login) adds a key pair whose label looks like a
    // jitca CA generation and whose public half is malformed: enumerating the token's keys fails
    // with ERR_HSM_FAILURE from now on; the CA key itself is untouched and signs.
    const pkcs11 = secondHandle();
    const session = pkcs11.C_OpenSession(slotOf(pkcs11, api.ca.config.hsm.tokenLabel), pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
    const label = `${api.ca.config.ssh.caName}/9`;
    const p256 = Buffer.from('06082a8648ce3d030107', 'hex');
    const objects = [
      pkcs11.C_CreateObject(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_EC_PARAMS, value: p256 },
        { type: pkcs11js.CKA_EC_POINT, value: Buffer.from('0403040506', 'hex') },
      ]),
      pkcs11.C_CreateObject(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_EC_PARAMS, value: p256 },
        { type: pkcs11js.CKA_VALUE, value: Buffer.alloc(32, 7) },
      ]),
    ];
    cleanups.push(() => {
      for (const object of objects) pkcs11.C_DestroyObject(session, object);
      pkcs11.C_CloseSession(session);
    });
    expect(() => api.ca.runtime.keys.list()).toThrow(expect.objectContaining({ code: 'ERR_HSM_FAILURE' }));

    expect((await issue()).statusCode).toBe(201);
    const ready = await api.app.inject({ url: '/readyz' });
    expect(ready.json()).toEqual({ status: 'ready', checks: { hsm: 'ok', store: 'ok' } });
    expect(ready.statusCode).toBe(200);
  });

  it('many concurrent /readyz calls share one probe and all get its answer', async () => {
    const { api } = await started();
    const answers = await Promise.all(Array.from({ length: 50 }, () => api.app.inject({ url: '/readyz' })));
    expect(new Set(answers.map((answer) => answer.statusCode))).toEqual(new Set([200]));
    // Probes write nothing a request reads: no audit record, no row.
    expect(api.rowCounts().audit_log).toBe((await api.ca.runtime.store.listAudit()).length);
  });
});
