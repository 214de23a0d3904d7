/**
 * The published KRL's cache (issuance/ssh-krl-cache.ts): built once per change, served from memory,
 * and rebuilt when this process revokes, when another replica revokes (its poll), when a listed
 * revocation expires past the skew allowance (by the clock), and when the trusted CAs change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { issueSshCertificate } from '../../src/issuance/issue-ssh-certificate.ts';
import { revokeSshCertificate } from '../../src/issuance/revoke-ssh-certificate.ts';
import { createSshKrlCache, type SshKrlCacheOptions } from '../../src/issuance/ssh-krl-cache.ts';
import type { Identity } from '../../src/policy/types.ts';
import { decodeKrl } from '../../src/ssh/krl.ts';
import { openStore } from '../../src/store/store.ts';
import type { Store } from '../../src/store/types.ts';
import { createCaFixture, type CaFixture } from '../support/ca-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const alice: Identity = { subject: 'alice', groups: ['oncall-payments'], via: 'local-cli' };
const secteam: Identity = { subject: 'secteam', groups: [], via: 'local-cli' };
const clock = fixedClock(Date.parse('2026-06-01T10:00:00.000Z'));
const SKEW_SECONDS = 60;

let ca: CaFixture;
let key: TempSshKey;
/** A second replica's connection to the same database, with a cache of its own. */
let replicaStore: Store;

beforeAll(async () => {
  ca = await createCaFixture({ clock });
  key = createTempSshKey('jitca-krl-cache-');
  replicaStore = await openStore({ sqlitePath: ca.config.store.sqlitePath, clock });
});

afterAll(async () => {
  await replicaStore?.close();
  key?.cleanup();
  await ca?.cleanup();
});

/** The store as the cache sees it, counting every call it makes. */
function countingStore(store: Store): SshKrlCacheOptions['store'] & { calls: number } {
  const counted = {
    calls: 0,
    listRevocations: (validAtIso: string) => {
      counted.calls += 1;
      return store.listRevocations(validAtIso);
    },
    revocationsRevision: () => {
      counted.calls += 1;
      return store.revocationsRevision();
    },
  };
  return counted;
}

function cacheOver(store: SshKrlCacheOptions['store'], keyring: SshKrlCacheOptions['keyring'] = ca.runtime.keyring) {
  return createSshKrlCache({ store, keyring, config: { ssh: { backdateSeconds: SKEW_SECONDS } }, clock });
}

async function issueAndRevoke(ttlSeconds = 600): Promise<{ serial: bigint; validBeforeMs: number }> {
  const issued = await issueSshCertificate(ca.runtime.sshIssuance, alice, { publicKey: key.publicKey, role: 'oncall-payments', ttlSeconds });
  if (issued.status !== 'issued') throw new Error(`expected issued, got ${issued.status}`);
  await revokeSshCertificate(ca.runtime.store, secteam, issued.serial, 'key leaked');
  return { serial: BigInt(issued.serial), validBeforeMs: issued.validBefore.getTime() };
}

const serialsOf = (bytes: Uint8Array): bigint[] => decodeKrl(bytes).certificates.flatMap((section) => section.serials);

describe('the KRL cache', () => {
  it('serves from memory: after the first build, a GET reads nothing from the store', async () => {
    const store = countingStore(ca.runtime.store);
    const cache = cacheOver(store);
    const first = await cache.current();
    const callsAfterBuild = store.calls;
    expect(callsAfterBuild).toBe(2); // the revision, then the live revocations
    for (let i = 0; i < 100; i++) expect(await cache.current()).toBe(first);
    expect(store.calls).toBe(callsAfterBuild);
    cache.close();
  });

  it('a revocation in this process appears at once (invalidate); on another replica after its poll (refresh)', async () => {
    const here = cacheOver(ca.runtime.store);
    const replica = cacheOver(replicaStore);
    const before = await here.current();
    const replicaBefore = await replica.current();
    expect(replicaBefore.bytes.equals(before.bytes)).toBe(true);

    const { serial } = await issueAndRevoke();
    here.invalidate(); // what the revocation route does after recording it
    const after = await here.current();
    expect(serialsOf(after.bytes)).toContain(serial);
    expect(after.etag).not.toBe(before.etag);

    // The replica serves what it built until its poll sees the store's revision move.
    expect(await replica.current()).toBe(replicaBefore);
    expect(await replica.refresh()).toBe(true);
    const replicaAfter = await replica.current();
    expect(serialsOf(replicaAfter.bytes)).toContain(serial);
    expect(await replica.refresh()).toBe(false);
    here.close();
    replica.close();
  });

  it('two replicas build byte-identical KRLs from one store', async () => {
    await issueAndRevoke();
    const one = await cacheOver(ca.runtime.store).current();
    const other = await cacheOver(replicaStore).current();
    expect(serialsOf(one.bytes).length).toBeGreaterThan(0);
    expect(other.bytes.equals(one.bytes)).toBe(true);
    expect(other.etag).toBe(one.etag);
  });

  it('an expired revocation leaves after the skew allowance, with no revocation to trigger it', async () => {
    const { serial, validBeforeMs } = await issueAndRevoke(300);
    const cache = cacheOver(ca.runtime.store);
    expect(serialsOf((await cache.current()).bytes)).toContain(serial);
    clock.advance(validBeforeMs + SKEW_SECONDS * 1000 - 1 - clock.now());
    expect(serialsOf((await cache.current()).bytes)).toContain(serial);
    clock.advance(1);
    expect(serialsOf((await cache.current()).bytes)).not.toContain(serial);
    cache.close();
  });

  it('a change of the trusted CAs (the keyring\'s onChange) rebuilds it', async () => {
    const listeners: Array<() => void> = [];
    const keyring: SshKrlCacheOptions['keyring'] = {
      trusted: (kind) => ca.runtime.keyring.trusted(kind),
      onChange: (listener) => {
        listeners.push(listener);
        return () => undefined;
      },
    };
    const store = countingStore(ca.runtime.store);
    const cache = cacheOver(store, keyring);
    await cache.current();
    const calls = store.calls;
    for (const listener of listeners) listener();
    await cache.current();
    expect(store.calls).toBe(calls + 2);
    cache.close();
  });
});

