/**
 * Issue 21's audit archive: fills a SQLite store with N audit records dated a year and a half ago
 * (plus a few from today), then times `audit export --archive`'s run, `audit truncate`'s run and
 * `audit verify --archive` (archive plus database), in process, and the archive's bytes per
 * record. `audit verify` ran at about 95,000 records/s on the 1M store (issue 21); these should
 * stay near it. Reports, does not assert.
 *
 * Run: ./scripts/node node bench/audit-archive.ts [records=100000] [dir=os.tmpdir()]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fixedClock, systemClock } from '../src/clock.ts';
import { archiveAudit, truncateAudit } from '../src/issuance/audit-archive-run.ts';
import { verifyAuditWithArchives } from '../src/store/audit-archive-verify.ts';
import { openStore } from '../src/store/store.ts';
import { machineLine } from './references.ts';

const records = Math.min(2_000_000, Number(process.argv[2] ?? 100_000));
const dir = mkdtempSync(path.join(process.argv[3] ?? tmpdir(), 'jitca-audit-archive-'));
const sqlitePath = path.join(dir, 'jitca.sqlite');
const archive = path.join(dir, 'archive.jsonl');
const load = (): string => loadavg().map((value) => value.toFixed(1)).join(' ');

try {
  console.log(`${records} audit records; ${machineLine()}; load average ${load()}`);
  const old = await openStore({ sqlitePath, clock: fixedClock(Date.now() - 540 * 86_400_000) });
  for (let i = 0; i < records; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, records - i) }, (_, j) =>
        old.appendAudit({ type: 'ssh.issued', actor: 'alice@example.com', data: { serial: String(1e15 + i + j), principals: ['oncall-payments'] } }),
      ),
    );
  }
  await old.close();
  const store = await openStore({ sqlitePath, clock: systemClock });
  try {
    const options = { store, clock: systemClock, minAgeDays: 400, file: archive, actor: 'local:bench' };
    const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const result = await work();
      const seconds = (performance.now() - started) / 1000;
      console.log(`${name}: ${seconds.toFixed(2)} s, ${(records / seconds).toFixed(0)} records/s (load ${load()})`);
      return result;
    };
    await timed('verify (database, before)', () => store.verifyAudit());
    await timed('export --archive', () => archiveAudit({ ...options, maxRecords: records }));
    console.log(`archive: ${(statSync(archive).size / records).toFixed(0)} bytes per record`);
    // The transaction alone (checks, checkpoint row, delete, record): how long it holds the write lock.
    let transactionSeconds = 0;
    const timedStore = {
      ...store,
      recordAuditTruncation: async (entry: Parameters<typeof store.recordAuditTruncation>[0]) => {
        const started = performance.now();
        try {
          return await store.recordAuditTruncation(entry);
        } finally {
          transactionSeconds = (performance.now() - started) / 1000;
        }
      },
    };
    await timed('truncate', () => truncateAudit({ ...options, store: timedStore }));
    console.log(`truncate's transaction: ${transactionSeconds.toFixed(2)} s`);
    const verified = await timed('verify --archive (archive + database)', () => verifyAuditWithArchives(store, [archive]));
    console.log(`verified: ${JSON.stringify(verified)}`);
  } finally {
    await store.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
