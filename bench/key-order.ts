/**
 * Issue 21's "issuance slows as the store grows", isolated to the store: recordDecision writes/s
 * (256 in flight, group commit) as each of four stores grows to N certificates, the variants
 * written in turn chunk by chunk so they share the machine's conditions:
 *   random ids / time-ordered ids (issuance/request-id.ts), each with SQLite's default page cache
 *   (2 MB) and with 64 MiB. Serials stay random in all four (certificates.serial).
 * With the set `page-size`, the page-size and index review instead: time-ordered ids, default
 * cache, pages of 4, 8 and 16 KiB, and 4 KiB without audit_log_request_id_idx (which no statement
 * reads: only migration 0008's one-time backfill joined on it).
 * Reports, does not assert.
 *
 * Run: ./scripts/node node bench/key-order.ts [certificates per store=60000] [chunk=5000] [dir=os.tmpdir()] [set=key-order|page-size]
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { systemClock } from '../src/clock.ts';
import { newRequestId } from '../src/issuance/request-id.ts';
import { randomSerial } from '../src/issuance/serial.ts';
import { openSqliteStoreDatabase } from '../src/store/database.ts';
import { migrateToLatest } from '../src/store/migrations.ts';
import { createStore } from '../src/store/store.ts';
import type { Store } from '../src/store/types.ts';
import { issuedEntry } from '../test/store/store-fixtures.ts';
import { machineLine } from './references.ts';

const perStore = Math.min(1_000_000, Number(process.argv[2] ?? 60_000));
const chunk = Number(process.argv[3] ?? 5000);
const baseDir = process.argv[4] ?? tmpdir();
const variantSet = process.argv[5] ?? 'key-order';
const IN_FLIGHT = 256;
// About the size of a real certificate row (an Ed25519 user certificate line is ~1.2 kB).
const CERTIFICATE_PADDING = 'A'.repeat(1100);

interface Variant {
  name: string;
  id: () => string;
  cacheKiB?: number;
  /** Bytes; set before the first table is created (SQLite's default is 4096). */
  pageSize?: number;
  dropIndex?: string;
  store?: Store;
  file?: string;
  rates: number[];
}

const timeOrdered = (): string => newRequestId(Date.now());
const variants: Variant[] =
  variantSet === 'page-size'
    ? [
        { name: '4 KiB pages', id: timeOrdered, rates: [] },
        { name: '8 KiB pages', id: timeOrdered, pageSize: 8192, rates: [] },
        { name: '16 KiB pages', id: timeOrdered, pageSize: 16384, rates: [] },
        { name: '4 KiB, no audit_log_request_id_idx', id: timeOrdered, dropIndex: 'audit_log_request_id_idx', rates: [] },
      ]
    : [
        { name: 'random ids, default cache', id: () => `req_${randomUUID().replaceAll('-', '')}`, rates: [] },
        { name: 'time-ordered ids, default cache', id: timeOrdered, rates: [] },
        { name: 'random ids, 64 MiB cache', id: () => `req_${randomUUID().replaceAll('-', '')}`, cacheKiB: 65536, rates: [] },
        { name: 'time-ordered ids, 64 MiB cache', id: timeOrdered, cacheKiB: 65536, rates: [] },
      ];

const dir = mkdtempSync(path.join(baseDir, 'jitca-key-order-'));
try {
  for (const [i, variant] of variants.entries()) {
    variant.file = path.join(dir, `store-${i}.sqlite`);
    if (variant.pageSize !== undefined) {
      // The page size is fixed when the first page is written, and a WAL database cannot change it.
      const raw = new Database(variant.file);
      chmodSync(variant.file, 0o600);
      raw.pragma(`page_size = ${variant.pageSize}`);
      raw.exec('create table page_size_probe (x integer); drop table page_size_probe');
      raw.close();
    }
    const { db, executorFor } = openSqliteStoreDatabase(variant.file);
    await migrateToLatest(db);
    if (variant.dropIndex !== undefined) await sql.raw(`drop index ${variant.dropIndex}`).execute(db);
    const pageSize = (await sql<{ page_size: number }>`pragma page_size`.execute(db)).rows[0]?.page_size;
    console.log(`${variant.name}: page_size ${pageSize}`);
    if (variant.cacheKiB !== undefined) await sql.raw(`pragma cache_size = -${variant.cacheKiB}`).execute(db);
    variant.store = createStore(db, { clock: systemClock }, executorFor);
  }
  const load = (): string => loadavg().map((value) => value.toFixed(1)).join(' ');
  console.log(`recordDecision writes/s per chunk of ${chunk} as each store grows to ${perStore}; ${machineLine()}; load average ${load()}`);
  for (let written = 0; written < perStore; written += chunk) {
    for (const variant of variants) variant.rates.push(await writeChunk(variant, Math.min(chunk, perStore - written)));
    console.log(`${String(written + chunk).padStart(8)}: ${variants.map((v) => `${v.name} ${(v.rates.at(-1) ?? 0).toFixed(0)}/s`).join(' | ')} (load ${load()})`);
  }
  // Closed first: the last connection's close checkpoints the WAL into the file measured below.
  for (const variant of variants) {
    await variant.store?.close();
    variant.store = undefined;
  }
  for (const variant of variants) {
    const first = variant.rates.slice(0, 2);
    const last = variant.rates.slice(-2);
    const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    console.log(
      `${variant.name}: first two chunks ${mean(first).toFixed(0)}/s, last two ${mean(last).toFixed(0)}/s (${(mean(last) / mean(first)).toFixed(2)}x), ` +
        `${((statSync(variant.file ?? '').size) / 2 ** 20).toFixed(0)} MiB, ${(statSync(variant.file ?? '').size / perStore).toFixed(0)} bytes per certificate`,
    );
  }
} finally {
  for (const variant of variants) await variant.store?.close();
  rmSync(dir, { recursive: true, force: true });
}

async function writeChunk(variant: Variant, count: number): Promise<number> {
  const store = variant.store;
  if (store === undefined) throw new Error('store not open');
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let i = next++; i < count; i = next++) {
        const entry = issuedEntry(variant.id(), randomSerial().toString());
        if (entry.certificate !== undefined) entry.certificate.certificate += CERTIFICATE_PADDING;
        await store.recordDecision(entry);
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}
