import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readRecording, startRecording } from '../../src/gateway/asciicast.ts';

const directory = mkdtempSync(path.join(tmpdir(), 'jitca-asciicast-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('session recordings (asciicast v2)', () => {
  it('keeps the output with its timing, and the SHA-256 of exactly the bytes written', () => {
    let now = 1_000_000;
    const file = path.join(directory, 'one.cast');
    const recorder = startRecording(file, { maxBytes: 1 << 20, startedAt: now, command: 'kubectl logs api-0', now: () => now });
    recorder.output(Buffer.from('first line\n'));
    now += 1500;
    recorder.output(Buffer.from('second "quoted" line\n'));
    const summary = recorder.close();
    const bytes = readFileSync(file);
    expect(summary).toEqual({ file, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), truncated: false });
    const lines = bytes.toString('utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ version: 2, timestamp: 1000, title: 'kubectl logs api-0' });
    expect(lines.slice(1)).toEqual([[0, 'o', 'first line\n'], [1.5, 'o', 'second "quoted" line\n']]);
    const replayed = readRecording(file);
    expect(replayed.output.map((event) => event.text).join('')).toBe('first line\nsecond "quoted" line\n');
    expect(replayed.sha256).toBe(summary.sha256);
  });

  it('stops recording at its size limit, says so, and never writes past it', () => {
    const file = path.join(directory, 'capped.cast');
    const recorder = startRecording(file, { maxBytes: 2048, startedAt: 0, command: 'kubectl logs --follow api-0', now: () => 0 });
    for (let i = 0; i < 100; i++) recorder.output(Buffer.from(`line ${i} ${'x'.repeat(40)}\n`));
    const summary = recorder.close();
    expect(summary.truncated).toBe(true);
    expect(summary.bytes).toBeLessThanOrEqual(2048);
    expect(readFileSync(file).length).toBe(summary.bytes);
    expect(readRecording(file).truncated).toBe(true);
  });

  it('refuses a file that is not a recording', () => {
    const file = path.join(directory, 'not.cast');
    writeFileSync(file, '{"version":1}\n');
    expect(() => readRecording(file)).toThrow(/not an asciicast v2 recording/);
    writeFileSync(file, '{"version":2}\n[0,"o"]\n');
    expect(() => readRecording(file)).toThrow(/not an asciicast event/);
  });
});
