import { ErrorCodes, JitcaError } from '../errors.ts';
import { HOST_NAME_PATTERN, MAX_INSTALLED_FINGERPRINTS, SSH_FINGERPRINT_PATTERN } from '../host-report-format.ts';
import type { StoreDb } from './schema.ts';
import type { HostReport, HostReportLimits } from './types.ts';


/** The store's own check: a report reaches the table only in the shape the API accepts. */
export function checkHostReport(report: HostReport, limits: HostReportLimits): void {
  const problem = !HOST_NAME_PATTERN.test(report.host)
    ? 'host'
    : report.installed.length > MAX_INSTALLED_FINGERPRINTS || !report.installed.every((fingerprint) => SSH_FINGERPRINT_PATTERN.test(fingerprint))
      ? 'installed'
      : report.address.length > 64
        ? 'address'
        : Number.isNaN(Date.parse(report.lastSeen))
          ? 'lastSeen'
          : !Number.isSafeInteger(limits.maxHosts) || limits.maxHosts < 1
            ? 'maxHosts'
            : undefined;
  if (problem !== undefined) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `host report field ${problem} is not valid`, { details: { field: problem } });
  }
}

/**
 * One transaction: an existing host's row is updated; a new host is inserted only while fewer
 * than maxHosts rows exist, after deleting rows not seen since staleBeforeIso. With PostgreSQL
 * two replicas inserting new hosts at once can each see room for one more, so the cap can be
 * passed by at most the number of replicas: still bounded.
 */
export async function upsertHostReport(db: StoreDb, report: HostReport, limits: HostReportLimits): Promise<'recorded' | 'full'> {
  const row = { installed: JSON.stringify([...report.installed].sort()), address: report.address, last_seen: report.lastSeen };
  return db.transaction().execute(async (trx) => {
    const updated = await trx.updateTable('host_reports').set(row).where('host', '=', report.host).executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) return 'recorded';
    if ((await countHosts(trx)) >= limits.maxHosts) {
      await trx.deleteFrom('host_reports').where('last_seen', '<', limits.staleBeforeIso).execute();
      if ((await countHosts(trx)) >= limits.maxHosts) return 'full';
    }
    // A concurrent first report of the same host (another replica) makes this an update.
    await trx
      .insertInto('host_reports')
      .values({ host: report.host, ...row })
      .onConflict((conflict) => conflict.column('host').doUpdateSet(row))
      .execute();
    return 'recorded';
  });
}

async function countHosts(db: StoreDb): Promise<number> {
  const { count } = await db.selectFrom('host_reports').select((eb) => eb.fn.countAll().as('count')).executeTakeFirstOrThrow();
  return Number(count);
}

export async function listHostReports(db: StoreDb, sinceIso: string): Promise<HostReport[]> {
  const rows = await db.selectFrom('host_reports').selectAll().where('last_seen', '>=', sinceIso).orderBy('host').execute();
  return rows.map((row) => ({ host: row.host, installed: JSON.parse(row.installed) as string[], address: row.address, lastSeen: row.last_seen }));
}
