import { describe, it } from 'vitest';
import { checkAuthChallenges, checkEnrollChallenges, checkLocalUsers } from './local-identity-cases.ts';
import { tempStorePerTest } from './store-fixtures.ts';

const openStore = tempStorePerTest();

describe('local identities in the SQLite store', () => {
  it('records, lists, finds and removes local users, each with its audit record; one name, one key', async () => {
    const { store } = await openStore();
    await checkLocalUsers(store);
  });

  it('issues challenges within the per-name and per-address limits and spends each once', async () => {
    const { store } = await openStore();
    await checkAuthChallenges(store);
  });

  it('spends an enrollment challenge only for the name it was issued to, and replaces a full name\'s oldest', async () => {
    const { store } = await openStore();
    await checkEnrollChallenges(store);
  });
});
