/**
 * Enrollment challenges across replicas without session affinity: one API issues, another on the
 * same store answers, and a replay through it is refused. Each replica is its own CaRuntime (its
 * own store connection and token session, api-fixture.ts replica()), on SQLite and on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { enrollmentPolicy as policy, possessionSignature } from '../support/enrollment-fixture.ts';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../support/postgres.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

type App = ApiFixture['app'];

function checkAcrossReplicas(label: string, store: () => Record<string, unknown> | undefined): void {
  describe(`enrollment challenges across replicas (${label})`, () => {
    let api: ApiFixture;
    let replica: Awaited<ReturnType<ApiFixture['replica']>>;
    let keys: TempSshKey[];

    beforeAll(async () => {
      const storeConfig = store();
      api = await createApiFixture({ policy, ...(storeConfig === undefined ? {} : { store: storeConfig }) });
      replica = await api.replica();
      keys = [0, 1].map(() => createTempSshKey('jitca-replica-'));
    });
    afterAll(async () => {
      await replica?.close();
      await api?.close();
      for (const key of keys ?? []) key.cleanup();
    });

    const as = (who: keyof ApiFixture['tokens']) => ({ authorization: `Bearer ${api.tokens[who]}` });
    const challenge = async (app: App, who: keyof ApiFixture['tokens']): Promise<string> => {
      const response = await app.inject({ method: 'POST', url: '/v1/keys/challenge', headers: as(who) });
      expect(response.statusCode).toBe(200);
      return response.json<{ challenge: string }>().challenge;
    };
    const enroll = async (app: App, who: keyof ApiFixture['tokens'], key: TempSshKey, id: string) => {
      const response = await app.inject({ method: 'POST', url: '/v1/keys', headers: as(who), payload: { publicKey: key.publicKey, challenge: id, signature: possessionSignature(key.keyPath, id) } });
      return [response.statusCode, response.json<{ code?: string; owner?: string }>().code ?? response.json<{ owner: string }>().owner];
    };

    it('a challenge one replica issued is answered through the other, once', async () => {
      const id = await challenge(api.app, 'dave');
      // Another person through the second replica: refused, and the challenge stays its owner's.
      expect(await enroll(replica.app, 'alice', keys[0]!, id)).toEqual([400, 'ERR_CHALLENGE_INVALID']);
      expect(await enroll(replica.app, 'dave', keys[0]!, id)).toEqual([201, 'dave']);
      // Replayed through the replica that spent it, and through the one that issued it.
      expect(await enroll(replica.app, 'dave', keys[1]!, id)).toEqual([400, 'ERR_CHALLENGE_INVALID']);
      expect(await enroll(api.app, 'dave', keys[1]!, id)).toEqual([400, 'ERR_CHALLENGE_INVALID']);
      // And the other way round.
      const back = await challenge(replica.app, 'dave');
      expect(await enroll(api.app, 'dave', keys[1]!, back)).toEqual([201, 'dave']);
      expect(await enroll(replica.app, 'dave', keys[1]!, back)).toEqual([400, 'ERR_CHALLENGE_INVALID']);
      expect((await api.app.inject({ method: 'GET', url: '/v1/keys', headers: as('dave') })).json().keys).toHaveLength(2);
    });
  });
}

checkAcrossReplicas('SQLite', () => undefined);

describe.skipIf(!postgresAvailable())('on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let url: string;
  beforeAll(async () => {
    cluster = await startPostgres();
    url = cluster.createDatabase('jitca_enroll_replicas');
  });
  afterAll(() => cluster?.stop());
  checkAcrossReplicas('PostgreSQL', () => ({ postgresUrl: url }));
});
