import { describe, it } from 'vitest';
import { checkRequestList } from './request-list-cases.ts';
import { tempStorePerTest } from './store-fixtures.ts';

const openTemp = tempStorePerTest();

describe('listRequests (SQLite)', () => {
  it('pages newest first by (createdAt, id) within states and scope, without repeats or gaps, and refuses malformed queries', async () => {
    const { store } = await openTemp();
    await checkRequestList(store);
  });
});
