import type { StoreDb } from './schema.ts';
import type { ActiveCertificateCount } from './types.ts';

/** The most live certificates one count reads: a scrape stays bounded whatever the store holds. */
export const ACTIVE_CERTIFICATES_READ_LIMIT = 100_000;

/**
 * Live certificates (valid now, not revoked) by kind, namespace and operation: what "active
 * credentials per namespace" on the dashboard and the alerts read. The read goes through the CA
 * generations that are not retired and each one's (ca_key_id, valid_before) index, so it touches
 * only live rows, never the whole table. A certificate with several operations counts once under
 * each; one without a namespace or operations counts under "" (the label is present, and empty).
 */
export async function countActiveCertificates(db: StoreDb, nowIso: string): Promise<ActiveCertificateCount[]> {
  const rows = await db
    .selectFrom('ca_generations as g')
    .innerJoin('certificates as c', 'c.ca_key_id', 'g.key_id')
    .leftJoin('revocations as r', 'r.serial', 'c.serial')
    .select(['c.kind as kind', 'c.scope as scope'])
    .where('g.state', '<>', 'retired')
    .where('c.valid_before', '>', nowIso)
    .where('c.valid_after', '<=', nowIso)
    .where('r.serial', 'is', null)
    .limit(ACTIVE_CERTIFICATES_READ_LIMIT)
    .execute();
  const counts = new Map<string, ActiveCertificateCount>();
  for (const row of rows) {
    const { namespace, operations } = labelsOf(row.scope);
    for (const operation of operations) {
      const key = `${row.kind}\u0000${namespace}\u0000${operation}`;
      const count = counts.get(key);
      if (count === undefined) counts.set(key, { kind: row.kind, namespace, operation, count: 1 });
      else count.count += 1;
    }
  }
  return [...counts.values()];
}

function labelsOf(scopeJson: string): { namespace: string; operations: string[] } {
  let scope: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(scopeJson);
    if (typeof parsed === 'object' && parsed !== null) scope = parsed as Record<string, unknown>;
  } catch {
    // a hand-edited row: counted without labels
  }
  const namespace = typeof scope['namespace'] === 'string' ? scope['namespace'] : '';
  const listed = Array.isArray(scope['operations']) ? scope['operations'].filter((operation): operation is string => typeof operation === 'string') : [];
  return { namespace, operations: listed.length === 0 ? [''] : listed };
}
