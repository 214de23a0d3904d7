import { describe, it } from 'vitest';
import { checkEnrolledKeys } from './enrolled-key-cases.ts';
import { tempStorePerTest } from './store-fixtures.ts';

const openStore = tempStorePerTest();

describe('enrolled keys in the SQLite store', () => {
  it('records, lists, finds and removes enrollments, each with its audit record; one key, one person', async () => {
    const { store } = await openStore();
    await checkEnrolledKeys(store);
  });
});
