import { describe, it } from 'vitest';
import { checkActiveCertificates } from './active-certificate-cases.ts';
import { tempStorePerTest } from './store-fixtures.ts';

const openStore = tempStorePerTest();

describe('active certificates in the SQLite store', () => {
  it('counts certificates valid now, not revoked, of a generation not retired, by kind, namespace and operation', async () => {
    const { store } = await openStore();
    await checkActiveCertificates(store);
  });
});
