/**
 * The bounds on unauthenticated host reports (src/api/host-report-recorder.ts) against a real
 * SQLite store and a fake clock: a repeating host is not rewritten, writes per minute are capped
 * for all hosts together, and the table never holds more than maxHosts hosts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHostReportRecorder } from '../../src/api/host-report-recorder.ts';
import { fixedClock } from '../../src/clock.ts';
import type { Store } from '../../src/store/types.ts';
import { makeTempDir, openTempStore, removeDir, START_MS } from '../store/store-fixtures.ts';

const FP = (letter: string) => `SHA256:${letter.repeat(43)}`;
const limits = { maxHosts: 5, writesPerMinute: 3, rewriteAfterSeconds: 300, readyShare: 1, windowHours: 24 };

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = makeTempDir();
  store = (await openTempStore(dir)).store;
});
afterAll(async () => {
  await store?.close();
  if (dir !== undefined) removeDir(dir);
});

const rows = async () => store.listHostReports('1970-01-01T00:00:00.000Z');

describe('host report recorder', () => {
  it('does not rewrite a host repeating itself, rewrites it once it says something new or the period passed', async () => {
    const clock = fixedClock(START_MS);
    const record = createHostReportRecorder({ store, clock, limits: { ...limits, writesPerMinute: 100 } });
    expect(await record({ host: 'web-1', installed: [FP('a')] }, '192.0.2.1')).toBe('recorded');
    clock.advance(60_000);
    expect(await record({ host: 'web-1', installed: [FP('a')] }, '192.0.2.1')).toBe('unchanged');
    expect((await rows())[0]?.lastSeen).toBe(new Date(START_MS).toISOString());
    expect(await record({ host: 'web-1', installed: [FP('a'), FP('b')] }, '192.0.2.1')).toBe('recorded');
    clock.advance(300_000);
    expect(await record({ host: 'web-1', installed: [FP('a'), FP('b')] }, '192.0.2.1')).toBe('recorded');
    expect((await rows())[0]).toMatchObject({ host: 'web-1', installed: [FP('a'), FP('b')], lastSeen: new Date(START_MS + 360_000).toISOString() });
  });

  it('drops reports beyond writesPerMinute and beyond maxHosts: a flood of made-up names leaves the table bounded', async () => {
    const clock = fixedClock(START_MS + 3_600_000);
    const record = createHostReportRecorder({ store, clock, limits });
    const outcomes: string[] = [];
    // 10 minutes of a flood, 1000 new names a minute: bounded loop, no timing asserted.
    for (let minute = 0; minute < 10; minute += 1) {
      for (let i = 0; i < 1000; i += 1) outcomes.push(await record({ host: `fake-${minute}-${i}`, installed: [] }, '198.51.100.9'));
      clock.advance(60_000);
    }
    expect(outcomes.filter((outcome) => outcome === 'rate-limited')).toHaveLength(10 * 997);
    expect((await rows()).length).toBe(limits.maxHosts);
    expect(outcomes.filter((outcome) => outcome === 'full').length).toBeGreaterThan(0);
    // A day later the fake hosts are outside the window and make room for a real one.
    clock.advance(25 * 3_600_000);
    expect(await record({ host: 'web-2', installed: [FP('c')] }, '192.0.2.2')).toBe('recorded');
    expect((await rows()).map((row) => row.host)).toContain('web-2');
  });
});
