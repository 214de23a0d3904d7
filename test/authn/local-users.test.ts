import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addLocalUser, removeLocalUser } from '../../src/authn/local-users.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { formatAuthorizedKeysLine, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { codeOfAsync } from '../support/error-codes.ts';
import { tempStorePerTest } from '../store/store-fixtures.ts';

/** `jitca users add|remove` decide here: names, groups and keys checked, one key per person, every change audited. */

const openStore = tempStorePerTest();

function newKey(): string {
  return formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(generateKeyPairSync('ed25519').publicKey), 'laptop');
}

describe('local users', () => {
  it('registers a person with sorted, de-duplicated groups and their key (no comment), audited in the same write', async () => {
    const { store } = await openStore();
    const key = newKey();
    const user = await addLocalUser(store, { name: 'lena', groups: ['sre', 'oncall-payments', 'sre'], publicKey: key, actor: 'local:root' });
    expect(user).toMatchObject({ name: 'lena', groups: ['oncall-payments', 'sre'], publicKey: key.replace(/ laptop$/, ''), addedBy: 'local:root' });
    expect(await store.findLocalUser('lena')).toEqual(user);
    expect((await store.listAudit()).at(-1)).toMatchObject({ type: 'user.added', actor: 'local:root', subject: 'lena', data: { groups: ['oncall-payments', 'sre'], fingerprint: user.fingerprint, keyType: 'ssh-ed25519' } });
  });

  it('refuses a taken name, a key that is already someone\'s, bad names and groups, and non-keys, writing nothing', async () => {
    const { store } = await openStore();
    const key = newKey();
    await addLocalUser(store, { name: 'lena', groups: ['sre'], publicKey: key, actor: 'local:root' });
    const audited = (await store.listAudit()).length;
    const attempt = (name: string, groups: string[], publicKey: string): Promise<string | undefined> =>
      codeOfAsync(addLocalUser(store, { name, groups, publicKey, actor: 'local:root' }));
    expect(await attempt('lena', ['sre'], newKey())).toBe(ErrorCodes.LOCAL_USER_CONFLICT);
    expect(await attempt('ada', ['sre'], key)).toBe(ErrorCodes.LOCAL_USER_CONFLICT);
    expect(await attempt('Ada Lovelace', ['sre'], newKey())).toBe(ErrorCodes.REQUEST_INVALID);
    expect(await attempt('ada', [], newKey())).toBe(ErrorCodes.REQUEST_INVALID);
    expect(await attempt('ada', ['system:masters'], newKey())).toBe(ErrorCodes.REQUEST_INVALID);
    expect(await attempt('ada', ['sre'], 'ssh-ed25519 AAAAnot-a-key')).toBeDefined();
    expect((await store.listLocalUsers()).map((user) => user.name)).toEqual(['lena']);
    expect((await store.listAudit()).length).toBe(audited);
  });

  it('removes a person with its audit record; an unknown name is ERR_LOCAL_USER_NOT_FOUND', async () => {
    const { store } = await openStore();
    await addLocalUser(store, { name: 'lena', groups: ['sre'], publicKey: newKey(), actor: 'local:root' });
    await removeLocalUser(store, 'lena', 'local:root');
    expect(await store.findLocalUser('lena')).toBeUndefined();
    expect((await store.listAudit()).at(-1)).toMatchObject({ type: 'user.removed', subject: 'lena', data: { groups: ['sre'] } });
    expect(await codeOfAsync(removeLocalUser(store, 'lena', 'local:root'))).toBe(ErrorCodes.LOCAL_USER_NOT_FOUND);
  });
});
