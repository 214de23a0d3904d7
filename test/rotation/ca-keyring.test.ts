import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPkcs11Token } from '../../hsm/pkcs11-token.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { createKeyManager, type KeyManager } from '../../src/keys/key-manager.ts';
import type { CaGeneration, Store } from '../../src/store/types.ts';
import { openCaKeyring } from '../../rotation/ca-keyring.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from '../hsm/softhsm-fixture.ts';
import { makeTempDir, openTempStore, removeDir, START_MS } from '../store/store-fixtures.ts';

const caNames = { 'ssh-user': 'ssh-user-ca', 'kube-client': 'kube-client-ca' } as const;
const clock = { now: () => START_MS };

let hsm: SoftHsmFixture;
let keys: KeyManager;
let store: Store;
let storeDir: string;

beforeAll(async () => {
  hsm = createSoftHsmFixture('jitca-keyring-test');
  keys = createKeyManager(openPkcs11Token({ modulePath: hsm.modulePath, tokenLabel: hsm.tokenLabel, pin: hsm.pin, sessions: 2 }));
  // What `jitca init` left before the keyring existed (and what a hand rotation added): keys in
  // the token, nothing in the store.
  await keys.createKey({ caName: 'ssh-user-ca', generation: 1 }, { kind: 'ed25519' });
  await keys.createKey({ caName: 'ssh-user-ca', generation: 2 }, { kind: 'ed25519' });
  await keys.createKey({ caName: 'kube-client-ca', generation: 1 }, { kind: 'ecdsa', curve: 'P-256' });
  storeDir = makeTempDir();
  store = (await openTempStore(storeDir)).store;
});

afterAll(async () => {
  await store?.close();
  keys?.close();
  if (storeDir !== undefined) removeDir(storeDir);
  hsm?.cleanup();
});

describe('CA keyring', () => {
  it('builds the generation rows from the keys in the token on first open: newest active, older retiring, one audit record', async () => {
    const keyring = await openCaKeyring({ store, keys, caNames, clock });
    try {
      expect(keyring.active('ssh-user').keyId).toBe('ssh-user-ca/2');
      expect(keyring.trusted('ssh-user').map((generation) => [generation.keyId, generation.state])).toEqual([
        ['ssh-user-ca/1', 'retiring'],
        ['ssh-user-ca/2', 'active'],
      ]);
      expect(keyring.active('kube-client').keyId).toBe('kube-client-ca/1');
      const rows = await store.listCaGenerations();
      expect(rows.map((row) => [row.ca, row.generation, row.state, row.algorithm])).toEqual([
        ['kube-client', 1, 'active', 'ecdsa-p256'],
        ['ssh-user', 1, 'retiring', 'ed25519'],
        ['ssh-user', 2, 'active', 'ed25519'],
      ]);
      const signer = keys.requireSigner({ caName: 'ssh-user-ca', generation: 2 });
      expect(rows[2]?.publicKey).toBe(Buffer.from(signer.spki).toString('base64'));
      const audit = (await store.listAudit()).filter((record) => record.type === 'ca.generations');
      expect(audit).toHaveLength(1);
      expect(audit[0]?.data['generations']).toHaveLength(3);
    } finally {
      keyring.close();
    }
  });

  it('opening again reads the rows and writes nothing', async () => {
    const before = await store.listAudit();
    const keyring = await openCaKeyring({ store, keys, caNames, clock });
    keyring.close();
    expect(await store.listAudit()).toEqual(before);
  });

  it('picks up a new active generation recorded in the store on refresh, and tells its listeners', async () => {
    const keyring = await openCaKeyring({ store, keys, caNames, clock });
    try {
      const signer = await keys.createKey({ caName: 'ssh-user-ca', generation: 3 }, { kind: 'ed25519' });
      const rows = await store.listCaGenerations();
      const row = (generation: number): CaGeneration => {
        const found = rows.find((candidate) => candidate.ca === 'ssh-user' && candidate.generation === generation);
        if (found === undefined) throw new Error(`no row ${generation}`);
        return found;
      };
      const at = new Date(START_MS + 1000).toISOString();
      let heard = 0;
      keyring.onChange(() => (heard += 1));
      expect(await keyring.refresh()).toBe(false);
      await store.recordCaGenerations({
        generations: [
          { ...row(1), state: 'retired', retiredAt: at },
          { ...row(2), state: 'retiring', retiringAt: at },
          {
            ca: 'ssh-user',
            generation: 3,
            state: 'active',
            keyId: signer.keyId,
            algorithm: 'ed25519',
            publicKey: Buffer.from(signer.spki).toString('base64'),
            createdAt: at,
            activatedAt: at,
          },
        ],
        event: { type: 'ca.rotated', actor: 'test', data: { to: signer.keyId } },
      });
      const version = keyring.version;
      expect(await keyring.refresh()).toBe(true);
      expect([heard, keyring.version]).toEqual([1, version + 1]);
      expect(keyring.active('ssh-user').keyId).toBe('ssh-user-ca/3');
      expect(keyring.trusted('ssh-user').map((generation) => generation.keyId)).toEqual(['ssh-user-ca/2', 'ssh-user-ca/3']);
      // The signer handed out signs with the new key.
      const signature = await keyring.active('ssh-user').signer.sign(Buffer.from('x'));
      expect(signature).toHaveLength(64);
    } finally {
      keyring.close();
    }
  });

  it('refuses a token key that is not the public key the store recorded', async () => {
    const rows = await store.listCaGenerations();
    const kube = rows.find((row) => row.ca === 'kube-client');
    if (kube === undefined) throw new Error('no kube row');
    keys.destroy({ caName: 'kube-client-ca', generation: 1 });
    await keys.createKey({ caName: 'kube-client-ca', generation: 1 }, { kind: 'ecdsa', curve: 'P-256' });
    await expect(openCaKeyring({ store, keys, caNames, clock })).rejects.toMatchObject({ code: ErrorCodes.HSM_FAILURE });
  });
});
