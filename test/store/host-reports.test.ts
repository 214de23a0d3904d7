/**
 * trust-sync's host reports (migration 0010) in both stores: the last report per host, the hosts
 * seen since a time, and the cap on distinct hosts that keeps unauthenticated reports from growing
 * the table without bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { openPostgresStore } from '../../src/store/postgres-database.ts';
import type { HostReport, Store } from '../../src/store/types.ts';
import { startPostgres, type PostgresCluster } from '../support/postgres.ts';
import { makeTempDir, openTempStore, removeDir, START_MS } from './store-fixtures.ts';

const FP = (letter: string) => `SHA256:${letter.repeat(43)}`;
const at = (minutes: number) => new Date(START_MS + minutes * 60_000).toISOString();
const report = (host: string, minutes: number, installed = [FP('a')]): HostReport => ({ host, installed, address: '192.0.2.7', lastSeen: at(minutes) });

let cluster: PostgresCluster;
let dir: string;
const stores: Record<'sqlite' | 'postgres', Store> = {} as Record<'sqlite' | 'postgres', Store>;

beforeAll(async () => {
  dir = makeTempDir();
  stores.sqlite = (await openTempStore(dir)).store;
  cluster = await startPostgres();
  stores.postgres = await openPostgresStore({ url: cluster.createDatabase('jitca_host_reports'), clock: fixedClock(START_MS) });
});
afterAll(async () => {
  await stores.sqlite?.close();
  await stores.postgres?.close();
  cluster?.stop();
  if (dir !== undefined) removeDir(dir);
});

describe.each(['sqlite', 'postgres'] as const)('host reports in the %s store', (kind) => {
  const prefix = `${kind}-`;
  const mine = async (sinceMinutes: number) => (await stores[kind].listHostReports(at(sinceMinutes))).filter((row) => row.host.startsWith(prefix));

  it('keeps the last report of each host, and lists the hosts seen since a time', async () => {
    const store = stores[kind];
    const limits = { maxHosts: 100, staleBeforeIso: at(-1000) };
    expect(await store.recordHostReport(report(`${prefix}web-1`, 0, [FP('b'), FP('a')]), limits)).toBe('recorded');
    expect(await store.recordHostReport(report(`${prefix}web-2`, 5), limits)).toBe('recorded');
    expect(await store.recordHostReport(report(`${prefix}web-1`, 10, [FP('a'), FP('c')]), limits)).toBe('recorded');
    expect(await mine(0)).toEqual([
      { host: `${prefix}web-1`, installed: [FP('a'), FP('c')], address: '192.0.2.7', lastSeen: at(10) },
      { host: `${prefix}web-2`, installed: [FP('a')], address: '192.0.2.7', lastSeen: at(5) },
    ]);
    expect((await mine(6)).map((row) => row.host)).toEqual([`${prefix}web-1`]);
  });

  it('records no new host beyond maxHosts, updates known ones, and lets hosts not seen in the window make room', async () => {
    const store = stores[kind];
    // The cap is on the table: the rows the test before left count against it.
    const total = (await store.listHostReports(at(-100_000))).length;
    const cap = { maxHosts: total + 2, staleBeforeIso: at(-100_000) };
    expect(await store.recordHostReport(report(`${prefix}cap-1`, 200), cap)).toBe('recorded');
    expect(await store.recordHostReport(report(`${prefix}cap-2`, 200), cap)).toBe('recorded');
    expect(await store.recordHostReport(report(`${prefix}cap-3`, 200), cap)).toBe('full');
    expect(await store.recordHostReport(report(`${prefix}cap-1`, 201, [FP('z')]), cap)).toBe('recorded');
    expect((await mine(-100_000)).map((row) => row.host)).not.toContain(`${prefix}cap-3`);
    // With rows seen before minute 100 stale, they make room: the new host goes in, the stale ones go.
    expect(await store.recordHostReport(report(`${prefix}cap-3`, 202), { maxHosts: cap.maxHosts, staleBeforeIso: at(100) })).toBe('recorded');
    const left = (await store.listHostReports(at(-100_000))).map((row) => row.host);
    expect(left).toContain(`${prefix}cap-3`);
    expect(left).not.toContain(`${prefix}web-2`);
  });

  it('refuses a malformed report with ERR_REQUEST_INVALID and writes nothing', async () => {
    const store = stores[kind];
    const count = (await store.listHostReports(at(-100_000))).length;
    const limits = { maxHosts: 1000, staleBeforeIso: at(-1000) };
    for (const bad of [
      report('', 0),
      report('x'.repeat(254), 0),
      report('web 1', 0),
      report(`${prefix}ok`, 0, ['md5:ab']),
      report(`${prefix}ok`, 0, Array.from({ length: 17 }, (_, i) => FP(String.fromCharCode(97 + i)))),
    ]) {
      const error = await store.recordHostReport(bad, limits).then(() => undefined, (caught: unknown) => caught);
      expect(isJitcaError(error, ErrorCodes.REQUEST_INVALID)).toBe(true);
    }
    expect((await store.listHostReports(at(-100_000))).length).toBe(count);
  });
});
